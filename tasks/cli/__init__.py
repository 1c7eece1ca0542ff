"""Admin commands in the Celery CLI: `celery -A tasks courier …`.

Celery finds the `courier` group through the `celery.commands` entry point in
pyproject.toml and passes its own CLI context, so a subcommand reaches the app as
`ctx.obj.app` (see tasks.cli.context.courier_context). A new subcommand is a
`click.command(cls=CourierCommand)` in its own module, added with `register()` below.
"""

import click

from tasks.cli.command import CourierCommand, CourierGroup, CourierUsageError
from tasks.cli.context import CourierContext, courier_context
from tasks.cli.documents import failed, status
from tasks.cli.health import check_connect_command, health
from tasks.cli.output import ExitCode, exit_codes_epilog
from tasks.cli.pause import pause, paused, resume
from tasks.cli.requeue import rescan, resend, retry

# Imported after tasks.cli.command, which feedback.cli uses for its Russian help.
from feedback.cli import feedback_command, hook  # noqa: E402

GROUP_EPILOG = """\b
Примеры:
  celery -A tasks courier status 3f2c9a4e-5b1d-4c1e-9a57-0c2f7e1d8b21
  celery -A tasks courier failed --since 01.12.2026
  celery -A tasks courier retry --all-failed --client 7701234567
  celery -A tasks courier pause --line 80900fec-31a1-406d-aae4-c7969d9be6e1

Настройки (COURIER_ROOT, REDIS_URL и другие) берутся из окружения и файла .env, как у
worker и watcher. Справка по команде: celery -A tasks courier КОМАНДА --help.

""" + exit_codes_epilog()


@click.group("courier", cls=CourierGroup, epilog=GROUP_EPILOG,
             help="Команды администратора курьера документов 1С → 1С-Коннект: состояние "
                  "документов, не доставленные дропы, повторная отправка, пауза.")
@click.pass_context
def courier(ctx: click.Context) -> None:
    """Group of the courier's admin commands. Celery has loaded the app before it runs."""


def register(command: click.Command) -> click.Command:
    """Add a subcommand to `courier` and return it, so it also works as a decorator."""
    courier.add_command(command)
    return command


for _command in (status, failed, retry, resend, rescan, pause, resume, paused, health,
                 check_connect_command, hook, feedback_command):
    register(_command)


__all__ = [
    "CourierCommand",
    "CourierContext",
    "CourierUsageError",
    "ExitCode",
    "courier",
    "courier_context",
    "register",
]
