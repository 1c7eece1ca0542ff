"""1C-Connect line events: shape checks, trimming, and which ones are a client's message.

A `line` webhook posts a flat JSON object per event. Only text (message_type 1) and file
(70) messages written by the client count, and those carry `author_id == user_id`.
A specialist's or a bot's message carries another author, and automatic events none.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

TEXT_MESSAGE = 1
FILE_MESSAGE = 70
CLIENT_MESSAGE_TYPES = frozenset({TEXT_MESSAGE, FILE_MESSAGE})

# Longer texts are cut before the event is queued; a chat reply is far shorter.
MAX_TEXT_CHARS = 10_000

# The fields a Celery task receives; everything else (previews, call and remote-access
# details) is dropped so the broker message stays small.
KEPT_STRING_FIELDS = ("event_type", "event_source", "line_id", "user_id", "author_id",
                      "message_id", "message_time", "treatment_id", "text")
KEPT_FILE_FIELDS = ("file_id", "file_path", "file_name", "comment")

# message_id becomes a file name, so it may hold only these characters.
_SAFE_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,127}")


class InvalidEventError(ValueError):
    """The event does not have the documented shape; the message names the field."""


@dataclass(frozen=True)
class ClientMessage:
    """A text or file message that a client wrote into a line chat."""

    message_id: str
    line_id: str
    user_id: str
    message_type: int
    time: datetime
    text: str
    file: dict | None
    treatment_id: str | None


def trim_event(raw: dict) -> dict:
    """Return the kept fields of an event, type-checked; raise InvalidEventError.

    The text is cut to MAX_TEXT_CHARS characters.
    """
    event = {}
    for name in KEPT_STRING_FIELDS:
        value = raw.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidEventError(f"поле {name} должно быть строкой")
        event[name] = value[:MAX_TEXT_CHARS] if name == "text" else value

    message_type = raw.get("message_type")
    if message_type is not None:
        if isinstance(message_type, bool) or not isinstance(message_type, int):
            raise InvalidEventError("поле message_type должно быть целым числом")
        event["message_type"] = message_type

    if raw.get("file") is not None:
        event["file"] = _trim_file(raw["file"])
    return event


def ignore_reason(event: dict) -> str | None:
    """Return why the event is not a client's message, or None when it is one."""
    event_type = event.get("event_type", "line")
    if event_type != "line":
        return f"событие типа «{event_type}», а не сообщение в линии"

    message_type = event.get("message_type")
    if message_type not in CLIENT_MESSAGE_TYPES:
        return f"сообщение типа {message_type}, а не текст или файл"

    author_id, user_id = event.get("author_id"), event.get("user_id")
    if not author_id:
        return "автоматическое событие без автора"
    if not user_id or author_id.lower() != user_id.lower():
        return "сообщение написал специалист или бот, а не клиент"

    if not (event.get("text") or "").strip() and not event.get("file"):
        return "пустое сообщение"
    return None


def client_message(event: dict, received_at: datetime | None = None) -> ClientMessage:
    """Build the client's message from a trimmed event that `ignore_reason` accepted.

    Raises InvalidEventError when an id is missing or malformed. A missing or unreadable
    message_time is replaced by `received_at` (now by default).
    """
    message_id = event.get("message_id") or ""
    if not _SAFE_ID.fullmatch(message_id):
        raise InvalidEventError("поле message_id пустое или содержит недопустимые символы")

    file = event.get("file")
    text = (event.get("text") or "").strip()
    if not text and file:
        text = (file.get("comment") or "").strip()

    return ClientMessage(
        message_id=message_id,
        line_id=_canonical_uuid(event, "line_id"),
        user_id=_canonical_uuid(event, "user_id"),
        message_type=event["message_type"],
        time=parse_event_time(event.get("message_time")) or received_at or _utc_now(),
        text=text,
        file=file,
        treatment_id=event.get("treatment_id"),
    )


def parse_event_time(value: str | None) -> datetime | None:
    """Parse an ISO 8601 message_time; a time without an offset is UTC."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _trim_file(raw) -> dict:
    if not isinstance(raw, dict):
        raise InvalidEventError("поле file должно быть объектом")

    file = {}
    for name in KEPT_FILE_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidEventError(f"поле file.{name} должно быть строкой")
        if value is not None:
            file[name] = value

    size = raw.get("file_size")
    if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
        file["file_size"] = size
    return file


def _canonical_uuid(event: dict, name: str) -> str:
    try:
        return str(uuid.UUID(str(event.get(name, "")).strip().strip("{}")))
    except ValueError:
        raise InvalidEventError(f"поле {name} должно быть UUID") from None


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)
