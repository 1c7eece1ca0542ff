"""HTTP request handler: authentication, rate limit, faults and latency around the endpoints."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

from .body import BodyFramingError, RequestBody
from .config import SandboxConfig
from .control import handle_control
from .exchange import ApiRequest, RequestError, Response
from .faults import FaultRule
from .routes import find_endpoint, normalize_path

if TYPE_CHECKING:
    from .server import SandboxHTTPServer

logger = logging.getLogger(__name__)

RATE_LIMIT_ERROR = "Too many requests"
UNAUTHORIZED_ERROR = "Unauthorized"
DOWN_ERROR = "Service unavailable"


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """Handler of one connection: /v1/ is the imitated API, /_sandbox/ the control API.

    Every request body is read to its end before the response is written. Clients then
    get the status instead of a reset connection, and keep-alive connections stay usable.
    """

    protocol_version = "HTTP/1.1"
    server: SandboxHTTPServer

    def version_string(self) -> str:
        return "1C-Connect-Sandbox/1.0"

    def setup(self) -> None:
        super().setup()
        self.server.track_connection(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack_connection(self.connection)

    def parse_request(self) -> bool:
        # The request line has just been read, so this is when the request's first byte came.
        self.first_byte_at = time.time()
        self.hang_seconds = 0.0
        return super().parse_request()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("HTTP-запрос от %s: %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        path = normalize_path(urllib.parse.unquote(url.path))
        query = urllib.parse.parse_qs(url.query)

        if path.startswith("/_sandbox/"):
            self._serve_control(path, query)
        elif path.startswith("/v1/"):
            self._serve_api(path, query)
        else:
            self._serve_not_found()

    def _serve_control(self, path: str, query: dict[str, list[str]]) -> None:
        body = self._open_body()
        if body is None:
            return

        try:
            response = handle_control(self.server.state, self.command, path, query, body)
        except RequestError as error:
            logger.info(
                "Запрос управления %s %s отклонён со статусом %d: %s",
                self.command, path, error.status, error.message,
            )
            response = Response.from_error(error)

        if self._drain(body):
            self._write(response)

    def _serve_api(self, path: str, query: dict[str, list[str]]) -> None:
        """Respond to a /v1/ request and count its status (checks: _build_api_response)."""
        state = self.server.state
        if state.faults.down_mode() == "close":
            logger.info(
                "Песочница изображает недоступность: соединение для %s %s закрыто.",
                self.command, path,
            )
            state.recorder.count_dropped()
            self.close_connection = True
            return

        body = self._open_body(count=True)
        if body is None:
            return

        config = state.config
        response = self._build_api_response(path, query, body, config)
        if not self._drain(body):
            state.recorder.count_aborted()
            return

        self._pause(config.latency_ms / 1000 + self.hang_seconds)
        state.recorder.count_response(response.status)
        self._write(response)

    def _build_api_response(
        self, path: str, query: dict[str, list[str]], body: RequestBody, config: SandboxConfig
    ) -> Response:
        """Check the down switch, auth, rate limit and faults in order, then run the endpoint."""
        try:
            if self.server.state.faults.down_mode() == "503":
                raise RequestError(503, DOWN_ERROR)

            login = check_basic_auth(self.headers.get("Authorization"), config)
            self._acquire_rate_limit()
            fault = self._take_fault(path)
            if fault is not None:
                return fault

            return self._run_endpoint(path, query, body, config, login)
        except RequestError as error:
            self._log_rejection(path, error)
            return Response.from_error(error)
        except Exception:
            logger.exception(
                "Внутренняя ошибка песочницы при обработке %s %s, клиент получит 500.",
                self.command, path,
            )
            return Response.from_error(RequestError(500, "Internal sandbox error"))

    def _run_endpoint(
        self,
        path: str,
        query: dict[str, list[str]],
        body: RequestBody,
        config: SandboxConfig,
        login: str,
    ) -> Response:
        endpoint, params = find_endpoint(self.command, path)
        request = ApiRequest(
            method=self.command,
            path=path,
            query=query,
            headers=self.headers,
            body=body,
            login=login,
            config=config,
            state=self.server.state,
            first_byte_at=self.first_byte_at,
            params=params,
        )
        return endpoint(request)

    def _log_rejection(self, path: str, error: RequestError) -> None:
        """Log a rejected /v1/ request. 429s go to DEBUG, because a benchmark makes many."""
        level = logging.DEBUG if error.status == 429 else logging.INFO
        retry_after = error.headers.get("Retry-After")
        logger.log(
            level,
            "Запрос %s %s отклонён со статусом %d: %s%s.",
            self.command,
            path,
            error.status,
            error.message or "пустое тело ответа",
            f", повтор не раньше чем через {retry_after} с" if retry_after else "",
        )

    def _acquire_rate_limit(self) -> None:
        retry_after = self.server.state.limiter.acquire()
        if retry_after is not None:
            raise RequestError(429, RATE_LIMIT_ERROR, headers={"Retry-After": str(retry_after)})

    def _take_fault(self, path: str) -> Response | None:
        """Use up a matching fault rule and return its response, or None to serve normally."""
        rule = self.server.state.faults.take(self.command, path)
        if rule is None:
            return None

        self.hang_seconds = rule.hang_seconds
        logger.info(
            "Внедрённый сбой для %s %s: статус %s, задержка %.1f с.",
            self.command, path, rule.status or "обычный ответ", rule.hang_seconds,
        )
        if rule.status is None:
            return None

        return fault_response(rule)

    def _open_body(self, count: bool = False) -> RequestBody | None:
        """Return the request body, or respond 400 and close if its framing is invalid."""
        try:
            return RequestBody(self.rfile, self.headers)
        except BodyFramingError as error:
            logger.info(
                "Запрос %s %s отклонён: %s. Соединение будет закрыто.",
                self.command, self.path, error.message,
            )
            self.close_connection = True
            if count:
                self.server.state.recorder.count_response(error.status)
            self._write(Response.from_error(error))
            return None

    def _drain(self, body: RequestBody) -> bool:
        """Read the rest of the body and tell whether a response can still be written.

        Returns False when the client cut the body short or the socket failed. After
        other framing errors the response is written and the connection closed.
        """
        try:
            body.drain()
        except OSError as error:
            logger.info(
                "Чтение тела запроса %s %s от %s не удалось: %s.",
                self.command, self.path, self.address_string(), error,
            )
            self.close_connection = True
            return False

        if body.framing_error is not None:
            self.close_connection = True
        if body.cut_short:
            logger.info(
                "Клиент %s закрыл соединение, не дослав тело запроса %s %s.",
                self.address_string(), self.command, self.path,
            )
            return False

        return True

    def _pause(self, seconds: float) -> None:
        """Wait before responding. The wait ends early when the server stops."""
        if seconds > 0:
            self.server.state.stopping.wait(seconds)

    def _serve_not_found(self) -> None:
        body = self._open_body()
        if body is not None and self._drain(body):
            self._write(Response.from_error(RequestError(404, "Not found")))

    def _write(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(response.body)
        except OSError as error:
            logger.info("Не удалось отправить ответ клиенту %s: %s.", self.address_string(), error)
            self.close_connection = True


def check_basic_auth(header: str | None, config: SandboxConfig) -> str:
    """Return the login of valid HTTP Basic credentials, or raise RequestError 401."""
    challenge = {"WWW-Authenticate": 'Basic realm="1C-Connect sandbox", charset="UTF-8"'}
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        raise RequestError(401, UNAUTHORIZED_ERROR, headers=challenge)

    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise RequestError(401, UNAUTHORIZED_ERROR, headers=challenge) from None

    login, _, password = decoded.partition(":")
    login_ok = hmac.compare_digest(login.encode(), config.login.encode())
    password_ok = hmac.compare_digest(password.encode(), config.password.encode())
    if not (login_ok and password_ok):
        raise RequestError(401, UNAUTHORIZED_ERROR, headers=challenge)

    return login


def fault_response(rule: FaultRule) -> Response:
    """Build the injected response of a fault rule that has a status."""
    assert rule.status is not None
    headers = {}
    if rule.retry_after is not None:
        headers["Retry-After"] = str(rule.retry_after)

    return Response.from_error(RequestError(rule.status, rule.error, headers=headers))
