"""Checks of send requests: field types, flag combinations and line permissions.

The error texts are English, like the `{"error": ...}` bodies of the real API.
"""

from __future__ import annotations

from typing import Any

from .config import UUID_PATTERN
from .directory import Directory
from .exchange import RequestError

NOT_SUBSCRIBER_ERROR = "User is not a subscriber or never been online"

FLAG_FIELDS = ("bot_as_spec", "notification_only", "general_settings")


def require_uuid(data: dict[str, Any], name: str) -> str:
    """Return the UUID string in data[name], or raise RequestError 400 if missing or invalid."""
    if data.get(name) is None:
        raise RequestError(400, f"Field {name} is required")

    return check_uuid(data[name], name)


def check_uuid(value: Any, name: str) -> str:
    """Return `value` if it is a UUID string, or raise RequestError 400 naming the field."""
    if not isinstance(value, str) or not UUID_PATTERN.match(value):
        raise RequestError(400, f"Field {name} must be a UUID, got {value!r}")

    return value


def validate_message(body: dict[str, Any]) -> None:
    """Check the JSON of POST /v1/line/send/message/."""
    _require_text(body, "text")
    _validate_common(body)


def validate_file_meta(meta: dict[str, Any]) -> None:
    """Check the `meta` part of POST /v1/line/send/file/ and /v1/line/send/image/."""
    _require_text(meta, "file_name")
    if meta.get("comment") is not None and not isinstance(meta["comment"], str):
        raise RequestError(400, "Field comment must be a string")

    _validate_common(meta)


def check_permissions(directory: Directory, data: dict[str, Any]) -> None:
    """Reject with 403 a send to a non-subscriber, an unknown line or a non-specialist author.

    NOTE: the real API's status for an author_id that is not a specialist is not
    documented. The sandbox returns 403 so that a wrong CONNECT_AUTHOR_ID shows up.
    """
    if not directory.is_subscriber(data["line_id"], data["user_id"]):
        raise RequestError(403, NOT_SUBSCRIBER_ERROR)

    author_id = data.get("author_id")
    if author_id is None or data.get("notification_only") is True:
        return

    if not directory.is_specialist(author_id):
        raise RequestError(403, "Author is not a specialist of the line")


def _validate_common(data: dict[str, Any]) -> None:
    """Check the fields shared by messages and file metas. Unknown keys are allowed."""
    require_uuid(data, "line_id")
    require_uuid(data, "user_id")
    if data.get("author_id") is not None:
        check_uuid(data["author_id"], "author_id")

    for name in FLAG_FIELDS:
        if data.get(name) is not None and not isinstance(data[name], bool):
            raise RequestError(400, f"Field {name} must be a boolean")

    _validate_keyboard(data.get("keyboard"))
    _validate_flag_combinations(data)


def _validate_flag_combinations(data: dict[str, Any]) -> None:
    bot_as_spec = data.get("bot_as_spec") is True
    notification_only = data.get("notification_only") is True
    has_keyboard = bool(data.get("keyboard"))

    if has_keyboard and (bot_as_spec or notification_only):
        raise RequestError(400, "Keyboard is not allowed with bot_as_spec or notification_only")
    if bot_as_spec and data.get("author_id") is None:
        raise RequestError(400, "Field author_id is required when bot_as_spec is true")
    if bot_as_spec and notification_only:
        # NOTE: undocumented. The flags contradict each other, because bot_as_spec assigns
        # the author as specialist and notification_only assigns no one.
        raise RequestError(400, "bot_as_spec and notification_only cannot both be true")


def _validate_keyboard(keyboard: Any) -> None:
    """Check that a keyboard is rows of `{"text": str, "id"?: str}` buttons."""
    if keyboard is None:
        return

    if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
        raise RequestError(400, "Field keyboard must be a list of button rows")

    for row in keyboard:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise RequestError(400, "Each keyboard button must be an object with text")
            if button.get("id") is not None and not isinstance(button["id"], str):
                raise RequestError(400, "Keyboard button id must be a string")


def _require_text(data: dict[str, Any], name: str) -> None:
    value = data.get(name)
    if value is None:
        raise RequestError(400, f"Field {name} is required")
    if not isinstance(value, str) or not value.strip():
        raise RequestError(400, f"Field {name} must be a non-empty string")
