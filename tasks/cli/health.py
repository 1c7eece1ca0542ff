"""`health` and `check-connect`: one table for monitoring, one line for the API account."""

import click

from tasks.cli.command import CourierCommand
from tasks.cli.context import courier_context
from tasks.cli.output import ExitCode, render_table, say
from tasks.health import CHECK_NAMES, check_connect, run_health_checks

HEALTH_EPILOG = """\b
Примеры:
  celery -A tasks courier health
  celery -A tasks courier health --check redis --check workers

\b
Проверки: redis, workers (ping воркеров), watcher (пульс наблюдателя не старше 60 с),
inbox (чтение и запись), connect (вход в API 1С-Коннект, линия и специалист).
Коды выхода: 0 — всё в порядке, 7 — есть неисправность, 78 — неверная настройка."""


@click.command("health", cls=CourierCommand, epilog=HEALTH_EPILOG,
               short_help="Проверить Redis, воркеров, наблюдателя, inbox и API.",
               help="Проверить всё, от чего зависит доставка, и вывести таблицу. Код выхода "
                    "ненулевой, если хоть одна проверка не прошла, поэтому команду можно "
                    "вызывать из мониторинга и health check контейнеров.")
@click.option("--check", "checks", multiple=True, type=click.Choice(CHECK_NAMES),
              help="Выполнить только эту проверку; можно указать несколько раз. "
                   "По умолчанию — все.")
@click.pass_context
def health(ctx: click.Context, checks: tuple[str, ...]) -> None:
    """Run the health checks and exit UNHEALTHY when any fails."""
    courier = courier_context(ctx)
    results = run_health_checks(courier.app, courier.settings, checks or CHECK_NAMES)
    rows = [[result.name, "в порядке" if result.ok else "ОШИБКА", result.detail]
            for result in results]
    say(render_table(["Проверка", "Итог", "Подробности"], rows))
    if not all(result.ok for result in results):
        ctx.exit(int(ExitCode.UNHEALTHY))


@click.command("check-connect", cls=CourierCommand,
               short_help="Проверить учётную запись API, линию и специалиста.",
               help="Одним запросом на чтение проверить вход в API 1С-Коннект, линию "
                    "CONNECT_LINE_ID и специалиста CONNECT_AUTHOR_ID; вывести одну строку. "
                    "Коды выхода: 0 — всё в порядке, 7 — ошибка.")
@click.pass_context
def check_connect_command(ctx: click.Context) -> None:
    """Check only the 1C-Connect account, line and author."""
    result = check_connect(courier_context(ctx).settings)
    say(f"1С-Коннект: {'в порядке' if result.ok else 'ОШИБКА'} — {result.detail}")
    if not result.ok:
        ctx.exit(int(ExitCode.UNHEALTHY))
