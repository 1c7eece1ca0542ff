"""The text that goes with a document into the client's chat."""

import re

from delivery.sidecar import DocumentKind, Recipient, Sidecar

KIND_TITLES = {
    DocumentKind.CONTRACT: "Проект договора",
    DocumentKind.INVOICE: "Счёт на оплату",
    DocumentKind.ORDER: "Заказ",
    DocumentKind.RECONCILIATION: "Акт сверки",
    DocumentKind.ACT: "Акт выполненных работ",
    DocumentKind.WAYBILL: "Накладная",
    DocumentKind.TASK: "Задача",
    DocumentKind.TIMESHEET: "Табель выполненных работ",
    DocumentKind.OTHER: "Документ",
}

NEW_VERSION_NOTE = "Обновлённая версия: заменяет ранее отправленный документ."
FEEDBACK_REQUEST = (
    "Оцените, пожалуйста, документ: ответьте в этот чат цифрой от 1 до 5 "
    "или напишите замечания."
)


def format_date(value: str | None) -> str | None:
    """Render 2026-12-04 or 2026-12-04T00:00:00 as 04.12.2026; other forms pass through."""
    if not value:
        return None
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})", value)
    return f"{match[3]}.{match[2]}.{match[1]}" if match else value


def title(sidecar: Sidecar) -> str:
    """Name the document the way a person would: «Счёт на оплату № БП-1 от 04.12.2026»."""
    text = KIND_TITLES[sidecar.kind]
    if sidecar.number:
        text += f" № {sidecar.number}"
    date = format_date(sidecar.date)
    if date:
        text += f" от {date}"
    return text


def compose_comment(sidecar: Sidecar, recipient: Recipient, *, new_version: bool) -> str:
    """Build the comment for one recipient: the note, the comment or a title, the request."""
    lines = []
    if new_version:
        lines.append(NEW_VERSION_NOTE)
    lines.append(recipient.comment or sidecar.comment or title(sidecar))
    if sidecar.wants_feedback:
        lines.append(FEEDBACK_REQUEST)
    return "\n".join(lines)
