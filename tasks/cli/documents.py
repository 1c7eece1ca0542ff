"""Read-only commands: `courier status DOCUMENT_ID` and `courier failed [filters]`.

Both read only files under COURIER_ROOT, so they work while Redis is down.
"""

import json

import click

from delivery.status import read_status
from tasks.cli.catalog import DropRecord, document_drops, failed_drops, locate_drop
from tasks.cli.command import CourierCommand
from tasks.cli.context import CourierContext, courier_context
from tasks.cli.filters import DropFilter, filter_options
from tasks.cli.output import (
    ExitCode,
    first_line,
    format_time,
    recipient_state_label,
    render_fields,
    render_table,
    say,
    shorten,
    state_label,
    stop,
)
from tasks.cli.params import document_id_callback

STATUS_EPILOG = """\b
Примеры:
  celery -A tasks courier status 3f2c9a4e-5b1d-4c1e-9a57-0c2f7e1d8b21
  celery -A tasks courier status {3F2C9A4E-5B1D-4C1E-9A57-0C2F7E1D8B21} --json

\b
Коды выхода: 0 — статус выведен, 3 — курьер не знает документа, 2 — неверный GUID."""

# The reason column of `failed` is cut to this many characters, and --json gives it in full.
REASON_WIDTH = 100

FAILED_EPILOG = """\b
Примеры:
  celery -A tasks courier failed
  celery -A tasks courier failed --since 01.12.2026 --client 7701234567
  celery -A tasks courier failed --kind invoice --json

\b
Коды выхода: 0 — список выведен (в том числе пустой), 2 — неверный фильтр."""


@click.command("status", cls=CourierCommand, epilog=STATUS_EPILOG,
               short_help="Состояние документа и его получателей.",
               help="Показать состояние документа: итог, сообщение для 1С, каждого "
                    "получателя и папку, где лежит дроп. DOCUMENT_ID — GUID документа 1С "
                    "(поле document_id сопроводительного JSON).")
@click.argument("document_id", callback=document_id_callback)
@click.option("--json", "as_json", is_flag=True,
              help="Вывести файл status/<DOCUMENT_ID>.json как есть, без таблицы.")
@click.pass_context
def status(ctx: click.Context, document_id: str, as_json: bool) -> None:
    """Print a document's status file as a Russian table, or as raw JSON."""
    courier = courier_context(ctx)
    path = courier.folders.status_file(document_id)
    if not path.exists():
        stop(ctx, f"Курьер не знает документа {document_id}: файла "
                  f"status/{document_id}.json нет. Проверьте GUID документа в 1С.",
             ExitCode.NOT_FOUND)
    if as_json:
        say(path.read_text(encoding="utf-8").rstrip("\n"))
        return

    record = read_status(courier.folders, document_id)
    drop = _current_drop(courier, record)
    say(render_fields(_status_fields(courier, record, drop)))
    recipients = record.get("recipients") or []
    if recipients:
        say()
        say("Получатели:")
        say(_recipients_table(recipients))
    _print_other_drops(courier, document_id, drop)


def _current_drop(courier: CourierContext, record: dict) -> DropRecord | None:
    drop_id = record.get("drop_id")
    return locate_drop(courier.folders, drop_id) if drop_id else None


def _status_fields(courier: CourierContext, record: dict,
                   drop: DropRecord | None) -> list[tuple[str, str]]:
    fields = [("Документ", record.get("document_id"))]
    if drop is not None and drop.title:
        fields.append(("Название", drop.title))
    if drop is not None and drop.client_name:
        inn = f" (ИНН {drop.client_inn})" if drop.client_inn else ""
        fields.append(("Клиент", f"{drop.client_name}{inn}"))
    fields += [
        ("Состояние", state_label(record.get("state"))),
        ("Сообщение", record.get("message")),
        ("Обновлено", format_time(record.get("updated_at"))),
        ("Дроп", record.get("drop_id")),
        ("Папка", drop.relative_folder(courier.folders) if drop is not None
         else "не найдена (дроп удалён или перенесён в архив)"),
    ]
    if record.get("next_attempt_in_seconds") is not None:
        fields.append(("Следующая попытка", f"через {record['next_attempt_in_seconds']} с "
                                            f"после {format_time(record.get('updated_at'))}"))
    return fields


def _recipients_table(recipients: list[dict]) -> str:
    rows = []
    for item in recipients:
        error = item.get("error") or {}
        rows.append([
            item.get("address") or item.get("user_id"),
            recipient_state_label(item.get("state")),
            format_time(item.get("delivered_at")) if item.get("delivered_at") else None,
            item.get("attempts"),
            first_line(error.get("message")) if error else None,
        ])
    return render_table(["Получатель", "Состояние", "Доставлен", "Попыток", "Ошибка"], rows)


def _print_other_drops(courier: CourierContext, document_id: str,
                       current: DropRecord | None) -> None:
    """List other drops of the document still in work/ or failed/, e.g. an older failure."""
    others = [drop for drop in document_drops(courier.folders, document_id)
              if current is None or drop.drop_id != current.drop_id]
    if not others:
        return
    say()
    say("Другие дропы этого документа:")
    for drop in others:
        say(f"  {drop.relative_folder(courier.folders)}")


@click.command("failed", cls=CourierCommand, epilog=FAILED_EPILOG,
               short_help="Не доставленные дропы в failed/.",
               help="Показать дропы в failed/: документ, номер, вид, клиента, время и "
                    "причину. Без фильтров выводятся все дропы, от старых к новым.")
@filter_options
@click.option("--json", "as_json", is_flag=True,
              help="Вывести список как JSON-массив (для скриптов).")
@click.pass_context
def failed(ctx: click.Context, since, client, kind, as_json: bool) -> None:
    """List the drops in failed/ that match the filters."""
    courier = courier_context(ctx)
    selection = DropFilter(since=since, client_inn=client, kind=kind)
    drops = [drop for drop in failed_drops(courier.folders) if selection.matches(drop)]
    if as_json:
        say(json.dumps([_failed_item(drop) for drop in drops], ensure_ascii=False, indent=2))
        return
    if not drops:
        condition = f" по условиям: {selection.describe()}" if not selection.is_empty else ""
        say(f"В failed/ нет дропов{condition}.")
        return

    rows = [[drop.drop_id, drop.document_id, drop.number, drop.kind, drop.client_name,
             format_time(drop.failed_at.isoformat()) if drop.failed_at else None,
             shorten(first_line(drop.message), REASON_WIDTH)] for drop in drops]
    say(render_table(["Дроп", "Документ", "Номер", "Вид", "Клиент", "Время сбоя",
                      "Причина"], rows))
    say()
    say(f"Всего: {len(drops)}. Полная причина: courier status DOCUMENT_ID или --json. "
        "Повторить: courier retry DOCUMENT_ID или retry --all-failed с теми же фильтрами.")


def _failed_item(drop: DropRecord) -> dict:
    return {
        "drop_id": drop.drop_id,
        "document_id": drop.document_id,
        "number": drop.number,
        "kind": drop.kind,
        "client": {"name": drop.client_name, "inn": drop.client_inn},
        "failed_at": drop.failed_at.isoformat() if drop.failed_at else None,
        "message": drop.message,
    }
