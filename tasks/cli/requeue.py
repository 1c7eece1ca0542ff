"""Commands that queue drops again: `retry`, `resend --force` and `rescan`."""

import click

from delivery.drop import load_claimed_drop
from delivery.errors import InvalidDropError
from delivery.status import RecipientState, read_status
from delivery.timing import TIMING
from tasks.cli.catalog import FAILED, WORK, DropRecord, document_drops, failed_drops, locate_drop
from tasks.cli.command import CourierCommand, CourierUsageError
from tasks.cli.context import CourierContext, courier_context
from tasks.cli.filters import DropFilter, filter_options
from tasks.cli.output import ExitCode, confirm, render_table, say, state_label, stop, warn
from tasks.cli.params import document_id_callback, drop_id_callback
from tasks.cli.progress import (
    clear_progress,
    drop_version,
    forget_version,
    reset_failed_recipients,
)
from tasks.cli.reopen import ReopenError, reopen_drop
from tasks.recovery import requeue_orphaned_drops

RETRY_MESSAGE = ("Администратор вернул документ в очередь (courier retry); курьер отправит "
                 "его получателям, которым он ещё не доставлен.")
RESEND_MESSAGE = ("Администратор поставил документ на повторную отправку всем получателям "
                  "(courier resend --force).")

RETRY_EPILOG = """\b
Примеры:
  celery -A tasks courier retry 3f2c9a4e-5b1d-4c1e-9a57-0c2f7e1d8b21
  celery -A tasks courier retry --drop 20261204-201530-123456-9f3a1c
  celery -A tasks courier retry --all-failed --since 01.12.2026 --kind invoice

\b
Коды выхода: 0 — все выбранные дропы в очереди, 1 — часть не удалось вернуть,
3 — документ или дроп не найден, 4 — в failed/ нет подходящих дропов,
2 — неверный вызов, 69 — Redis недоступен."""

RESEND_EPILOG = """\b
Примеры:
  celery -A tasks courier resend 3f2c9a4e-5b1d-4c1e-9a57-0c2f7e1d8b21 --force
  celery -A tasks courier resend 3f2c9a4e-5b1d-4c1e-9a57-0c2f7e1d8b21 --force --yes

\b
Коды выхода: 0 — дроп в очереди, 2 — нет --force или неверный GUID, 3 — дроп
документа не найден, 5 — отправка не подтверждена, 6 — дроп документа сейчас
в work/, 69 — Redis недоступен."""

RESCAN_EPILOG = """\b
Пример:
  celery -A tasks courier rescan

\b
Коды выхода: 0 — дропы поставлены в очередь, 4 — дропов без задачи нет,
69 — Redis недоступен."""


def _retry_usage_error(document_id, drop_id, all_failed, selection) -> str | None:
    chosen = sum(value is not None and value is not False
                 for value in (document_id, drop_id, all_failed or None))
    if chosen != 1:
        return "укажите ровно одно: DOCUMENT_ID, --drop ID_ДРОПА или --all-failed."
    if not all_failed and not selection.is_empty:
        return "фильтры --since, --client и --kind работают только вместе с --all-failed."
    return None


@click.command("retry", cls=CourierCommand, epilog=RETRY_EPILOG,
               short_help="Вернуть дропы из failed/ в очередь.",
               help="Вернуть не доставленные дропы из failed/ в work/ и поставить в "
                    "очередь. Отправка идёт только получателям, которым документ ещё не "
                    "доставлен. error.json сохраняется как error.previous.json, время "
                    "захвата обновляется, так что срок DELIVERY_MAX_AGE_HOURS "
                    "отсчитывается заново. Для DOCUMENT_ID берётся самый новый дроп "
                    "документа в failed/. Дроп, у документа которого есть более новый "
                    "дроп, не возвращается, чтобы не отправить устаревшую версию; вернуть "
                    "его можно только через --drop.")
@click.argument("document_id", required=False, callback=document_id_callback)
@click.option("--drop", "drop_id", metavar="ID_ДРОПА", callback=drop_id_callback,
              help="Вернуть один дроп по имени его папки в failed/ (нужно, когда в "
                   "сопроводительном JSON нет читаемого document_id).")
@click.option("--all-failed", is_flag=True,
              help="Вернуть все дропы из failed/, подходящие под фильтры.")
@filter_options
@click.pass_context
def retry(ctx: click.Context, document_id, drop_id, all_failed, since, client, kind) -> None:
    """Queue failed drops again for the recipients still owed."""
    selection = DropFilter(since=since, client_inn=client, kind=kind)
    problem = _retry_usage_error(document_id, drop_id, all_failed, selection)
    if problem:
        raise CourierUsageError(problem, ctx)
    courier = courier_context(ctx)
    courier.check_redis()

    if all_failed:
        drops = _all_failed(ctx, courier, selection)
    elif drop_id:
        drops = [_failed_drop_by_id(ctx, courier, drop_id)]
    else:
        drops = [_latest_failed_drop(ctx, courier, document_id)]

    requeued = sum(_retry_one(courier, drop) for drop in drops)
    if len(drops) > 1:
        say(f"Итого в очереди: {requeued} из {len(drops)}.")
    if requeued < len(drops):
        ctx.exit(int(ExitCode.REQUEUE_FAILED))


def _all_failed(ctx, courier: CourierContext, selection: DropFilter) -> list[DropRecord]:
    drops = [drop for drop in failed_drops(courier.folders) if selection.matches(drop)]
    condition = f" по условиям: {selection.describe()}" if not selection.is_empty else ""
    if not drops:
        stop(ctx, f"В failed/ нет дропов{condition}: возвращать нечего.",
             ExitCode.NOTHING_TO_DO)

    current = [drop for drop in drops if not _report_superseded(courier, drops, drop)]
    if not current:
        stop(ctx, f"Все дропы в failed/{condition} заменены более новыми: возвращать нечего.",
             ExitCode.NOTHING_TO_DO)
    return current


def _report_superseded(courier: CourierContext, selected: list[DropRecord],
                       drop: DropRecord) -> bool:
    """Tell whether a newer drop of the same document exists, printing why `drop` is skipped.

    Retrying an old version after a newer one was queued or delivered would send the
    recipients outdated content marked as an update, so --all-failed leaves it alone.
    """
    if drop.document_id is None:
        return False
    newer = [other.drop_id for other in selected
             if other.document_id == drop.document_id and other.drop_id > drop.drop_id]
    status = read_status(courier.folders, drop.document_id) or {}
    if (status.get("drop_id") or "") > drop.drop_id:
        newer.append(status["drop_id"])
    if not newer:
        return False
    say(f"Дроп {drop.drop_id} пропущен: у документа {drop.document_id} есть более новый "
        f"дроп {max(newer)}. Вернуть именно этот: courier retry --drop {drop.drop_id}")
    return True


def _failed_drop_by_id(ctx, courier: CourierContext, drop_id: str) -> DropRecord:
    drop = locate_drop(courier.folders, drop_id)
    if drop is None:
        stop(ctx, f"Дроп {drop_id} не найден ни в work/, ни в failed/, ни в sent/.",
             ExitCode.NOT_FOUND)
    if drop.area != FAILED:
        stop(ctx, f"Дроп {drop_id} лежит в {drop.relative_folder(courier.folders)}, а не в "
                  "failed/: возвращать нечего.", ExitCode.NOTHING_TO_DO)
    return drop


def _latest_failed_drop(ctx, courier: CourierContext, document_id: str) -> DropRecord:
    drops = document_drops(courier.folders, document_id)
    failed = [drop for drop in drops if drop.area == FAILED]
    if failed and drops[-1] is not failed[-1]:
        newest = drops[-1]
        stop(ctx, f"У документа {document_id} есть более новый дроп "
                  f"{newest.relative_folder(courier.folders)}, поэтому дроп "
                  f"{failed[-1].drop_id} из failed/ не возвращается: он отправил бы устаревшую "
                  f"версию. Вернуть именно его: courier retry --drop {failed[-1].drop_id}",
             ExitCode.NOTHING_TO_DO)
    if failed:
        for older in failed[:-1]:
            say(f"Более ранний дроп {older.drop_id} этого документа остаётся в failed/. "
                f"Вернуть его: courier retry --drop {older.drop_id}")
        return failed[-1]

    in_work = [drop for drop in drops if drop.area == WORK]
    if in_work:
        stop(ctx, f"Документ {document_id} сейчас доставляется (work/{in_work[-1].drop_id}/): "
                  "возвращать нечего.", ExitCode.NOTHING_TO_DO)
    status = read_status(courier.folders, document_id)
    if status is None:
        stop(ctx, f"Курьер не знает документа {document_id}: нет ни статуса, ни дропов. "
                  "Проверьте GUID документа в 1С.", ExitCode.NOT_FOUND)
    stop(ctx, f"У документа {document_id} нет дропов в failed/ (состояние: "
              f"{state_label(status.get('state'))}); чтобы отправить доставленный документ "
              "ещё раз, используйте courier resend --force.", ExitCode.NOTHING_TO_DO)


def _retry_one(courier: CourierContext, drop: DropRecord) -> bool:
    """Reopen one failed drop for the recipients still owed, print the outcome, return success."""
    def prepare(reopened: DropRecord) -> list[dict]:
        return reset_failed_recipients(courier.redis, reopened.drop_id)

    try:
        result = reopen_drop(courier, drop, "retry", RETRY_MESSAGE, prepare,
                             keep_receipt=True)
    except (ReopenError, OSError) as error:
        warn(f"Дроп {drop.drop_id}: не удалось вернуть в очередь: {error}")
        return False
    say(f"Дроп {drop.drop_id} ({_describe(drop)}) возвращён в work/ и поставлен в очередь; "
        f"{_owed_text(result.recipients)}")
    return True


def _describe(drop: DropRecord) -> str:
    parts = [f"документ {drop.document_id or 'без GUID'}"]
    if drop.title:
        parts.append(drop.title)
    return ", ".join(parts)


def _owed_text(records: list[dict]) -> str:
    if not records:
        return "получатели, которым документ уже доставлен, будут пропущены по журналу отправок."
    owed = sum(record.get("state") == RecipientState.PENDING.value for record in records)
    return f"получателей к отправке: {owed} из {len(records)}."


@click.command("resend", cls=CourierCommand, epilog=RESEND_EPILOG,
               short_help="Отправить документ ещё раз, в обход защиты от дублей.",
               help="Отправить документ ещё раз всем получателям, в обход защиты от "
                    "дублей: берётся самый новый дроп документа из sent/ или failed/, "
                    "журнал отправок забывает эту версию документа, дроп возвращается в "
                    "work/ и ставится в очередь. Без --force команда ничего не делает.")
@click.argument("document_id", callback=document_id_callback)
@click.option("--force", is_flag=True,
              help="Подтвердить отправку в обход журнала отправок (обязательно).")
@click.option("--yes", "-y", "assume_yes", is_flag=True,
              help="Не спрашивать подтверждения. По умолчанию команда спрашивает.")
@click.pass_context
def resend(ctx: click.Context, document_id: str, force: bool, assume_yes: bool) -> None:
    """Queue the latest finished drop of a document again, ignoring the ledger."""
    if not force:
        stop(ctx, "Повторная отправка обходит защиту от дублей: получатели увидят документ "
                  "ещё раз. Если это нужно, добавьте --force: celery -A tasks courier "
                  f"resend {document_id} --force", ExitCode.INVALID_USAGE)
    courier = courier_context(ctx)
    courier.check_redis()

    drop = _latest_finished_drop(ctx, courier, document_id)
    if not assume_yes and not _confirm_resend(drop):
        stop(ctx, "Отменено: ничего не изменено.", ExitCode.ABORTED)

    forgotten_keys = []

    def prepare(reopened: DropRecord) -> list[dict]:
        forgotten_keys.append(_forget_delivery(courier, reopened))
        clear_progress(courier.redis, reopened.drop_id)
        return []

    try:
        reopen_drop(courier, drop, "resend", RESEND_MESSAGE, prepare, keep_receipt=False)
    except (ReopenError, OSError) as error:
        stop(ctx, f"Дроп {drop.drop_id}: не удалось вернуть в очередь: {error}",
             ExitCode.REQUEUE_FAILED)
    say(f"Дроп {drop.drop_id} ({_describe(drop)}) перенесён из "
        f"{drop.relative_folder(courier.folders)} в work/ и поставлен в очередь на повторную "
        f"отправку; записей журнала отправок забыто: {forgotten_keys[0]}.")


def _latest_finished_drop(ctx, courier: CourierContext, document_id: str) -> DropRecord:
    drops = document_drops(courier.folders, document_id)
    in_work = [drop for drop in drops if drop.area == WORK]
    if in_work:
        stop(ctx, f"Документ {document_id} сейчас доставляется (work/{in_work[-1].drop_id}/); "
                  f"дождитесь итога (courier status {document_id}) и повторите.",
             ExitCode.CONFLICT)
    if not drops:
        stop(ctx, f"Дроп документа {document_id} не найден ни в sent/, ни в failed/.",
             ExitCode.NOT_FOUND)
    return drops[-1]


def _confirm_resend(drop: DropRecord) -> bool:
    recipients = len(drop.sidecar.recipients) if drop.sidecar is not None else "?"
    name = f"«{drop.title}»" if drop.title else f"документ {drop.document_id}"
    return confirm(f"Отправить {name} (дроп {drop.drop_id}, получателей: {recipients}) "
                   "ещё раз в обход защиты от дублей?")


def _forget_delivery(courier: CourierContext, drop: DropRecord) -> int:
    """Forget the drop's content version in the ledger and return the recipient key count."""
    line_id = courier.line_id_of(drop.sidecar)
    if drop.document_id is None or line_id is None:
        return 0
    try:
        version = drop_version(load_claimed_drop(drop.folder))
    except (OSError, KeyError, ValueError, InvalidDropError):
        version = (drop.receipt or {}).get("content_sha256")
    if not version:
        return 0
    return forget_version(courier.redis, courier.ledger, drop.document_id, line_id, version)


@click.command("rescan", cls=CourierCommand, epilog=RESCAN_EPILOG,
               short_help="Поставить в очередь дропы из work/ без задачи.",
               help="Поставить в очередь дропы из work/, у которых нет живой задачи Celery "
                    "(задача потеряна). То же beat делает каждые "
                    f"{TIMING.recovery_scan_seconds} с, а наблюдатель — при запуске.")
@click.pass_context
def rescan(ctx: click.Context) -> None:
    """Queue every drop in work/ that has no live task."""
    courier = courier_context(ctx)
    requeued = requeue_orphaned_drops(courier.app, courier.redis, courier.folders)
    if not requeued:
        stop(ctx, "В work/ нет дропов без задачи: ставить в очередь нечего.",
             ExitCode.NOTHING_TO_DO)

    rows = []
    for drop_id in requeued:
        drop = locate_drop(courier.folders, drop_id)
        rows.append([drop_id, drop.document_id if drop else None, drop.title if drop else None])
    say(f"Снова поставлено в очередь дропов: {len(requeued)}.")
    say(render_table(["Дроп", "Документ", "Название"], rows))
