"""Commands for the admin pause switches: `pause`, `resume` and `paused`.

A paused drop stays queued: the worker checks the switch before each delivery attempt
and looks again after tasks.delivery.PAUSED_RETRY_SECONDS, spending no attempt. That
module is not imported here, because Celery loads this package for every `celery` run.
"""

import click

from delivery.pause import PAUSE_ALL_KEY, paused_lines, set_paused
from tasks.cli.command import CourierCommand
from tasks.cli.context import CourierContext, courier_context
from tasks.cli.output import say
from tasks.cli.params import line_id_callback

LINE_HELP = ("UUID линии поддержки (line_id). По умолчанию — все линии сразу; пауза одной "
             "линии и общая пауза независимы.")

PAUSE_EPILOG = """\b
Примеры:
  celery -A tasks courier pause
  celery -A tasks courier pause --line 80900fec-31a1-406d-aae4-c7969d9be6e1

\b
Коды выхода: 0 — пауза включена, 2 — неверный UUID линии, 69 — Redis недоступен."""

RESUME_EPILOG = """\b
Примеры:
  celery -A tasks courier resume
  celery -A tasks courier resume --line 80900fec-31a1-406d-aae4-c7969d9be6e1

\b
Коды выхода: 0 — пауза снята, 2 — неверный UUID линии, 69 — Redis недоступен."""


def describe_pause_state(courier: CourierContext) -> list[str]:
    """Describe which deliveries are paused now, one Russian sentence per line of output."""
    all_paused = bool(courier.redis.exists(PAUSE_ALL_KEY))
    lines = paused_lines(courier.redis)
    if not all_paused and not lines:
        return ["Отправка идёт: пауз нет."]
    text = []
    if all_paused:
        text.append("Отправка приостановлена для всех линий.")
    if lines:
        text.append("Приостановлены линии: " + ", ".join(lines) + ".")
    return text


def _print_state(courier: CourierContext) -> None:
    for line in describe_pause_state(courier):
        say(line)


@click.command("pause", cls=CourierCommand, epilog=PAUSE_EPILOG,
               short_help="Приостановить отправку: все линии или одну.",
               help="Приостановить отправку документов. Дропы остаются в очереди и уходят "
                    "при следующей проверке паузы после courier resume; попытки доставки "
                    "на паузе не расходуются.")
@click.option("--line", "line_id", metavar="ID_ЛИНИИ", callback=line_id_callback,
              help=LINE_HELP)
@click.pass_context
def pause(ctx: click.Context, line_id: str | None) -> None:
    """Pause deliveries for every line or for one line."""
    courier = courier_context(ctx)
    set_paused(courier.redis, True, line_id)
    _print_state(courier)


@click.command("resume", cls=CourierCommand, epilog=RESUME_EPILOG,
               short_help="Снять паузу: общую или одной линии.",
               help="Снять паузу: без --line снимается общая пауза всех линий, с --line — "
                    "пауза одной линии. Другие паузы остаются; команда выводит, какие.")
@click.option("--line", "line_id", metavar="ID_ЛИНИИ", callback=line_id_callback,
              help=LINE_HELP)
@click.pass_context
def resume(ctx: click.Context, line_id: str | None) -> None:
    """Lift the pause for every line or for one line."""
    courier = courier_context(ctx)
    set_paused(courier.redis, False, line_id)
    _print_state(courier)


@click.command("paused", cls=CourierCommand,
               short_help="Показать, какие паузы включены.",
               epilog="\b\nПример:\n  celery -A tasks courier paused\n\n\b\n"
                      "Коды выхода: 0 — состояние выведено, 69 — Redis недоступен.",
               help="Показать, приостановлена ли отправка: для всех линий и по линиям.")
@click.pass_context
def paused(ctx: click.Context) -> None:
    """Print the pause switches."""
    _print_state(courier_context(ctx))
