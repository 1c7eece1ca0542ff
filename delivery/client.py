"""HTTP client for the 1C-Connect API: Basic auth, explicit timeouts, streamed uploads.

Every request first takes a permit from the shared rate limiter. Responses map onto the
error tree in delivery.errors, so callers only decide by exception class.
"""

import json
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import requests
from requests_toolbelt import MultipartEncoder

from delivery.errors import (
    AuthenticationError,
    PermanentDeliveryError,
    RateLimitedError,
    RecipientRejectedError,
    TransientDeliveryError,
)

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 120.0
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class Permits(Protocol):
    """Rate limiter interface the client calls before each request."""

    def acquire(self) -> None: ...

    def slow_down(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class FileSend:
    """One file upload to one recipient's chat on a line."""

    line_id: str
    user_id: str
    path: Path
    file_name: str
    comment: str | None = None
    author_id: str | None = None
    specialist_mode: bool = False


class ConnectClient:
    """A thin, typed wrapper over the 1C-Connect endpoints the courier uses."""

    def __init__(self, base_url: str, login: str, password: str, *,
                 limiter: Permits | None = None,
                 timeout: tuple[float, float] = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)):
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.timeout = timeout
        self.session = requests.Session()
        self.session.auth = (login, password)
        self.session.headers["User-Agent"] = "connect-courier"

    def send_file(self, send: FileSend) -> None:
        """Upload one file with its meta part, streaming the file from disk."""
        meta = {"line_id": send.line_id, "user_id": send.user_id, "file_name": send.file_name}
        meta.update(_mode_flags(send.author_id, send.specialist_mode))
        if send.comment:
            meta["comment"] = send.comment
        content_type = mimetypes.guess_type(send.file_name)[0] or "application/octet-stream"

        with open(send.path, "rb") as stream:
            body = MultipartEncoder(fields=[
                ("meta", (None, json.dumps(meta, ensure_ascii=False), "application/json")),
                ("file", (send.file_name, stream, content_type)),
            ])
            self._request("POST", "line/send/file", data=body,
                          headers={"Content-Type": body.content_type},
                          context=f"файл «{send.file_name}» пользователю {send.user_id}")

    def send_message(self, line_id: str, user_id: str, text: str, *,
                     author_id: str | None = None, specialist_mode: bool = False) -> None:
        """Send a text message into the client's chat on the line."""
        payload = {"line_id": line_id, "user_id": user_id, "text": text}
        payload.update(_mode_flags(author_id, specialist_mode))
        self._request("POST", "line/send/message", json=payload,
                      context=f"сообщение пользователю {user_id}")

    def list_subscribers(self) -> list[dict]:
        """Return the account's line subscribers (User objects)."""
        return self._request("GET", "line/subscribers", context="список абонентов").json()

    def list_lines(self) -> list[dict]:
        """Return the support lines this API user can see."""
        return self._request("GET", "line", context="список линий").json()

    def get_specialist(self, user_id: str) -> dict:
        """Return one specialist's User object; 403 means the id is not a specialist."""
        return self._request("GET", f"line/specialist/{user_id}",
                             context=f"специалист {user_id}").json()

    def _request(self, method: str, path: str, *, context: str, **kwargs) -> requests.Response:
        if self.limiter is not None:
            self.limiter.acquire()
        url = f"{self.base_url}/v1/{path}/"
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout as error:
            raise TransientDeliveryError(
                f"1С-Коннект не ответил вовремя ({context}); курьер повторит отправку.",
                detail=_safe_error(error)) from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            raise TransientDeliveryError(
                f"Нет соединения с 1С-Коннект по адресу {self.base_url} ({context}); "
                "курьер повторит отправку.", detail=_safe_error(error)) from None
        if response.status_code != 200:
            raise self._error_for(response, context)
        return response

    def _error_for(self, response: requests.Response, context: str) -> Exception:
        status = response.status_code
        api_error = _api_error_text(response)
        said = f" ({status}: {api_error})" if api_error else f" ({status})"
        if status == 401:
            return AuthenticationError(status=status, api_error=api_error)
        if status in TRANSIENT_STATUSES or status >= 500:
            retry_after = _retry_after_seconds(response)
            if status == 429 and self.limiter is not None:
                self.limiter.slow_down(retry_after or 1.0)
            error_class = RateLimitedError if status == 429 else TransientDeliveryError
            return error_class(
                f"1С-Коннект временно не принял {context}{said}; курьер повторит отправку.",
                retry_after=retry_after, status=status, api_error=api_error)
        if status == 403:
            return RecipientRejectedError(
                f"1С-Коннект отказал: {context}{said}. Проверьте, что получатель подписан "
                "на линию поддержки, и исправьте получателя в 1C.",
                status=status, api_error=api_error)
        return PermanentDeliveryError(_permanent_message(status, context, said),
                                      status=status, api_error=api_error)


def _mode_flags(author_id: str | None, specialist_mode: bool) -> dict:
    """Return the meta flags for notification or specialist (bot_as_spec) mode."""
    if specialist_mode:
        return {"author_id": author_id, "bot_as_spec": True}
    flags = {"notification_only": True}
    if author_id:
        flags["author_id"] = author_id
    return flags


def _permanent_message(status: int, context: str, said: str) -> str:
    fixes = {
        400: "запрос отклонён как неверный; проверьте line_id, user_id и author_id в 1C",
        404: "адрес API не найден; проверьте CONNECT_BASE_URL",
        413: "файл слишком велик для 1С-Коннект; уменьшите его или разбейте на части",
        422: "1С-Коннект не может выполнить запрос; проверьте настройки линии и получателя",
    }
    fix = fixes.get(status, "запрос отклонён; проверьте данные документа в 1C")
    return f"1С-Коннект не принял {context}{said}: {fix}."


def _api_error_text(response: requests.Response) -> str | None:
    """Return the API's `{"error": ...}` text, if the body carries one."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"][:500]
    return None


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _safe_error(error: Exception) -> str:
    """Describe a requests error without credentials (requests never puts auth in URLs)."""
    return f"{type(error).__name__}: {error}"[:500]
