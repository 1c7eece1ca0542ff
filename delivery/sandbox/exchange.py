"""Response and error types shared by the sandbox's request handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .body import RequestBody
    from .config import SandboxConfig
    from .state import SandboxState

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class RequestError(Exception):
    """A request the sandbox rejects with an HTTP status and an optional error text.

    The text goes into a `{"error": "..."}` body. It is None for the rejections that the
    real 1C-Connect returns with an empty body.
    """

    def __init__(
        self,
        status: int,
        message: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or f"HTTP {status}")
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Response:
    """An HTTP response before it is written: status, body bytes and extra headers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def empty(cls, status: int = 200) -> Response:
        """Build a response with no body, as 1C-Connect returns for its action endpoints."""
        return cls(status=status)

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> Response:
        """Build a UTF-8 JSON response that keeps non-ASCII text unescaped."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return cls(status=status, body=body, headers={"Content-Type": JSON_CONTENT_TYPE})

    @classmethod
    def from_error(cls, error: RequestError) -> Response:
        """Build the response for a rejected request."""
        if error.message is None:
            response = cls.empty(error.status)
        else:
            response = cls.json({"error": error.message}, status=error.status)

        response.headers.update(error.headers)
        return response


@dataclass
class ApiRequest:
    """One authenticated /v1/ request as passed to an endpoint function.

    `path` always ends with a slash. `params` contains the ids matched in the path.
    `first_byte_at` is the Unix time in seconds when the request line arrived.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: RequestBody
    login: str
    config: SandboxConfig
    state: SandboxState
    first_byte_at: float
    params: dict[str, str] = field(default_factory=dict)

    def query_value(self, name: str) -> str | None:
        """Return the last value of a query parameter, or None when it is absent."""
        values = self.query.get(name)
        return values[-1] if values else None


def decode_json_object(raw: bytes, source: str) -> dict[str, Any]:
    """Decode a JSON object from UTF-8 bytes, with or without a BOM.

    Raises RequestError 400 naming the `source` (for example "request body") when the
    bytes are not valid UTF-8 JSON or the JSON value is not an object.
    """
    try:
        value = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RequestError(400, f"Invalid JSON in {source}: {error}") from error

    if not isinstance(value, dict):
        raise RequestError(400, f"Invalid JSON in {source}: expected an object")

    return value
