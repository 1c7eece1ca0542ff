"""Webhook registrations (POST /v1/hook/) and the delivery of synthetic events to them."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

from .directory import Directory
from .exchange import RequestError
from .validation import check_uuid

logger = logging.getLogger(__name__)

HOOK_TYPES = ("bot", "line")

# No proxy from the environment: hook targets are local services of the test or demo.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Hook:
    """A registered webhook: type "bot" or "line", line id (None: every line), URL, back_auth."""

    type: str
    line_id: str | None
    url: str
    back_auth: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.line_id, "url": self.url, "back_auth": self.back_auth}

    def covers(self, line_id: str | None) -> bool:
        """Tell whether events of the line reach this hook."""
        if self.line_id is None:
            return True

        return line_id is not None and self.line_id.lower() == line_id.lower()


class HookRegistry:
    """Thread-safe store of hooks, one per (type, line id) pair as 1C-Connect keeps them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hooks: dict[tuple[str, str | None], Hook] = {}

    def register(self, hook: Hook) -> None:
        """Add the hook or replace the one with the same type and line id."""
        with self._lock:
            self._hooks[_key(hook.type, hook.line_id)] = hook

    def delete(self, hook_type: str, line_id: str) -> bool:
        """Delete one hook and return False when there was none."""
        with self._lock:
            return self._hooks.pop(_key(hook_type, line_id), None) is not None

    def delete_all_but_bot(self) -> int:
        """Delete every hook except "bot" ones, as DELETE /v1/hook/ does, and return the count."""
        with self._lock:
            doomed = [key for key in self._hooks if key[0] != "bot"]
            for key in doomed:
                del self._hooks[key]
            return len(doomed)

    def clear(self) -> None:
        with self._lock:
            self._hooks.clear()

    def hooks(self) -> list[Hook]:
        with self._lock:
            return list(self._hooks.values())

    def urls_for_line(self, line_id: str) -> dict[str, str]:
        """Return `hook_bot`/`hook_line` URLs that cover the line, for GET /v1/line/."""
        urls = {}
        for hook in self.hooks():
            if hook.covers(line_id):
                urls.setdefault(f"hook_{hook.type}", hook.url)

        return urls


def hook_from_request(data: dict[str, Any], directory: Directory) -> Hook:
    """Validate the JSON of POST /v1/hook/, or raise RequestError 400 or 403."""
    hook_type = data.get("type")
    if hook_type not in HOOK_TYPES:
        raise RequestError(400, "Field type must be \"bot\" or \"line\"")

    line_id = data.get("id")
    if line_id is None and hook_type == "bot":
        raise RequestError(400, "Field id is required for a bot hook")
    if line_id is not None:
        check_uuid(line_id, "id")
        if not directory.has_line(line_id):
            raise RequestError(403, "Line not found or not accessible")

    url = data.get("url")
    parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise RequestError(400, "Field url must be an http or https URL")

    return Hook(hook_type, line_id, url, _validate_back_auth(data.get("back_auth")))


def deliver_event(
    hooks: list[Hook],
    event: dict[str, Any],
    timeout_seconds: float,
    loopback_only: bool,
) -> list[dict[str, Any]]:
    """POST the event to each hook that covers its line and source, one after another.

    Returns one `{url, type, id, status, error}` per hook. `status` is the HTTP status of
    the target's response, or None when the target could not be reached. Then `error`
    contains the reason.
    """
    results = []
    completed = _complete_event(event)
    for hook in _matching_hooks(hooks, event):
        payload = {"event_source": hook.type, **completed}
        status, error = _post_event(hook, payload, timeout_seconds, loopback_only)
        results.append(
            {
                "url": hook.url,
                "type": hook.type,
                "id": hook.line_id,
                "status": status,
                "error": error,
            }
        )

    return results


def _matching_hooks(hooks: list[Hook], event: dict[str, Any]) -> list[Hook]:
    source = event.get("event_source")
    return [
        hook
        for hook in hooks
        if hook.covers(event.get("line_id")) and source in (None, hook.type)
    ]


def _complete_event(event: dict[str, Any]) -> dict[str, Any]:
    """Fill in `event_type` ("line") and, for line events, `message_id` and `message_time`.

    Fields the caller gave are kept. Every hook gets the same message_id, because all
    hooks receive the same event.
    """
    completed = {"event_type": "line", **event}
    if completed["event_type"] != "line":
        return completed

    now = datetime.datetime.now(datetime.timezone.utc)
    defaults = {
        "message_id": str(uuid.uuid4()),
        "message_time": now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
    }
    return {**defaults, **completed}


def _post_event(
    hook: Hook, payload: dict[str, Any], timeout_seconds: float, loopback_only: bool
) -> tuple[int | None, str | None]:
    if loopback_only and not _is_loopback_url(hook.url):
        logger.warning(
            "Событие не отправлено на %s: песочница шлёт хуки только на адреса обратной петли. "
            "Чтобы разрешить другие адреса, задайте hooks_loopback_only=false.",
            hook.url,
        )
        return None, (
            "not sent: hooks go to loopback addresses only unless hooks_loopback_only is false"
        )

    request = urllib.request.Request(
        hook.url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers=_hook_headers(hook.back_auth),
        method="POST",
    )
    try:
        with _OPENER.open(request, timeout=timeout_seconds) as response:
            response.read()
            return response.status, None
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, OSError) as error:
        logger.warning("Не удалось отправить событие на хук %s: %s.", hook.url, error)
        return None, str(error)


def _hook_headers(back_auth: dict[str, Any] | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if back_auth is None:
        return headers

    if back_auth["type"] == "bearer":
        headers["Authorization"] = f"Bearer {back_auth['token']}"
    else:
        pair = f"{back_auth['login']}:{back_auth['password']}".encode("utf-8")
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")

    return headers


def _validate_back_auth(back_auth: Any) -> dict[str, Any] | None:
    """Check back_auth: basic needs login and password, bearer needs a token."""
    if back_auth is None:
        return None
    if not isinstance(back_auth, dict):
        raise RequestError(400, "Field back_auth must be an object")

    required = {"basic": ("login", "password"), "bearer": ("token",)}.get(back_auth.get("type"))
    if required is None:
        raise RequestError(400, "Field back_auth.type must be \"basic\" or \"bearer\"")

    for name in required:
        if not isinstance(back_auth.get(name), str) or not back_auth[name]:
            raise RequestError(400, f"Field back_auth.{name} is required for {back_auth['type']}")

    return {"type": back_auth["type"], **{name: back_auth[name] for name in required}}


def _is_loopback_url(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _key(hook_type: str, line_id: str | None) -> tuple[str, str | None]:
    return hook_type, line_id.lower() if line_id else None
