"""Output of the admin commands: exit codes, Russian labels, times and plain-text tables."""

import sys
from datetime import datetime
from enum import IntEnum
from typing import NoReturn

import click

from delivery.status import DocumentState, RecipientState

EMPTY_CELL = "—"


class ExitCode(IntEnum):
    """Exit codes of `celery -A tasks courier …`, which scripts and 1C admins branch on."""

    OK = 0
    REQUEUE_FAILED = 1
    INVALID_USAGE = 2  # Click exits with 2 on its own usage errors too.
    NOT_FOUND = 3
    NOTHING_TO_DO = 4
    ABORTED = 5
    CONFLICT = 6
    UNHEALTHY = 7
    UNAVAILABLE = 69  # EX_UNAVAILABLE from sysexits.h.
    CONFIG = 78  # EX_CONFIG, as every courier process exits on a bad setting.


EXIT_CODE_MEANINGS = {
    ExitCode.OK: "команда выполнена",
    ExitCode.REQUEUE_FAILED: "часть дропов не удалось вернуть в очередь (причины выведены)",
    ExitCode.INVALID_USAGE: "неверный вызов: нет аргумента, неверный параметр, "
                            "нет --force у resend",
    ExitCode.NOT_FOUND: "документ или дроп не найден",
    ExitCode.NOTHING_TO_DO: "делать нечего: нет подходящих дропов",
    ExitCode.ABORTED: "отменено: повторная отправка не подтверждена",
    ExitCode.CONFLICT: "дроп документа сейчас в work/ и доставляется",
    ExitCode.UNHEALTHY: "проверка здоровья нашла неисправность (строки с «ОШИБКА»)",
    ExitCode.UNAVAILABLE: "Redis недоступен",
    ExitCode.CONFIG: "настройка не задана или задана неверно",
}

DOCUMENT_STATE_LABELS = {
    DocumentState.CLAIMED: "принят курьером",
    DocumentState.QUEUED: "в очереди",
    DocumentState.SENDING: "отправляется",
    DocumentState.RETRYING: "ждёт повтора",
    DocumentState.DELIVERED: "доставлен",
    DocumentState.PARTIALLY_DELIVERED: "доставлен частично",
    DocumentState.FAILED: "не доставлен",
    DocumentState.DUPLICATE: "уже был доставлен (дубль)",
}

RECIPIENT_STATE_LABELS = {
    RecipientState.PENDING: "ожидает",
    RecipientState.DELIVERED: "доставлен",
    RecipientState.FAILED: "не доставлен",
    RecipientState.DUPLICATE: "уже был доставлен",
}


def exit_codes_epilog() -> str:
    """Describe every exit code for the help epilog. The leading \\b stops Click rewrapping it."""
    lines = ["\b", "Коды выхода:"]
    for code in ExitCode:
        lines.append(f"  {int(code):>2}  {EXIT_CODE_MEANINGS[code]}")
    return "\n".join(lines)


def state_label(value: str | None) -> str:
    """Render a document state such as `partially_delivered` in Russian, keeping the code."""
    try:
        return f"{DOCUMENT_STATE_LABELS[DocumentState(value)]} ({value})"
    except ValueError:
        return value or EMPTY_CELL


def recipient_state_label(value: str | None) -> str:
    """Render a recipient state in Russian. An unknown value passes through."""
    try:
        return RECIPIENT_STATE_LABELS[RecipientState(value)]
    except ValueError:
        return value or EMPTY_CELL


def format_time(value: str | None) -> str:
    """Render an RFC 3339 time from a courier file as local DD.MM.YYYY HH:MM:SS."""
    if not value:
        return EMPTY_CELL
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%d.%m.%Y %H:%M:%S")


def first_line(text: str | None) -> str:
    """Return the first non-empty line of a message, or a dash."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return EMPTY_CELL


def shorten(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def cell(value) -> str:
    """Render one table cell, with a dash for None and empty strings."""
    if value is None or value == "":
        return EMPTY_CELL
    return str(value)


def render_table(headers: list[str], rows: list[list]) -> str:
    """Lay rows out in columns two spaces apart under a dashed header line."""
    texts = [[cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in texts:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], len(value))

    def line(values: list[str]) -> str:
        padded = [value.ljust(widths[index]) for index, value in enumerate(values)]
        return "  ".join(padded).rstrip()

    rule = ["-" * width for width in widths]
    return "\n".join([line(headers), line(rule), *(line(row) for row in texts)])


def render_fields(pairs: list[tuple[str, str]]) -> str:
    """Lay out `label: value` lines with the values in one column."""
    width = max(len(label) for label, _ in pairs) + 1
    return "\n".join(f"{(label + ':').ljust(width)} {cell(value)}" for label, value in pairs)


def say(text: str = "") -> None:
    """Print a line of the command's result to stdout."""
    click.echo(text)


def warn(text: str) -> None:
    """Print a problem or a refusal to stderr."""
    click.echo(text, err=True)


def stop(ctx: click.Context, message: str, code: ExitCode) -> NoReturn:
    """Print `message` to stderr and end the command with `code`."""
    warn(message)
    ctx.exit(int(code))


def confirm(question: str) -> bool:
    """Ask a yes/no question on the terminal. Anything but «да» or «yes», or no input, is a no."""
    try:
        answer = click.prompt(question, default="", show_default=False,
                              prompt_suffix=" [да/нет]: ", err=True)
    except click.Abort:
        click.echo(file=sys.stderr)
        return False
    return answer.strip().casefold() in ("да", "д", "yes", "y")
