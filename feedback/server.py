"""The webhook receiver: a Tornado application that takes 1C-Connect events.

`POST /connect/events/` accepts an event only with `Authorization: Bearer <FEEDBACK_TOKEN>`
(the `back_auth` the hook was registered with), compared in constant time. The body is
limited to MAX_EVENT_BYTES and must be a JSON object. A client's message is deduplicated
by `message_id` (Redis SET NX with a TTL) and queued as a Celery task. The response is
200 as soon as the task is queued. Other events also get 200 and are dropped, so
1C-Connect does not retry them.
"""

import asyncio
import hmac
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import redis.asyncio
import redis.exceptions
import tornado.httpserver
import tornado.web

from feedback.events import InvalidEventError, client_message, ignore_reason, trim_event
from feedback.hooks import EVENTS_PATH

log = logging.getLogger(__name__)

RECORD_FEEDBACK_TASK = "courier.record_feedback"
DEDUP_KEY_PREFIX = "courier:feedback:event"

# Largest event body accepted, in bytes; a chat message with file metadata is a few KB.
MAX_EVENT_BYTES = 256 * 1024
# Larger bodies are read and discarded up to this size, so the sender gets a clean 413;
# beyond it the connection is closed, in bytes.
MAX_DRAIN_BYTES = 8 * 1024 * 1024
# How long a client may take to send a body, and to keep an idle connection, s.
BODY_TIMEOUT_SECONDS = 30
IDLE_CONNECTION_TIMEOUT_SECONDS = 60
# A repeated rejection (wrong token, too large) is logged once per interval, s.
REJECTION_LOG_INTERVAL_SECONDS = 60


class ThrottledWarnings:
    """Log a repeated warning once per interval, with the count of skipped repeats."""

    def __init__(self, interval_seconds: float = REJECTION_LOG_INTERVAL_SECONDS):
        self.interval_seconds = interval_seconds
        self._last_logged: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def warning(self, kind: str, message: str, *args) -> None:
        now = time.monotonic()
        last = self._last_logged.get(kind)
        if last is not None and now - last < self.interval_seconds:
            self._skipped[kind] = self._skipped.get(kind, 0) + 1
            return

        skipped = self._skipped.pop(kind, 0)
        self._last_logged[kind] = now
        if skipped:
            message += f" С прошлого сообщения таких запросов было ещё {skipped}."
        log.warning(message, *args)


class CeleryQueue:
    """Queue events as `courier.record_feedback` tasks from a worker thread.

    Publishing to the broker blocks, so it runs outside the event loop; one thread keeps
    Celery's producer from being shared between threads.
    """

    def __init__(self, app):
        self.app = app
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="celery-send")

    async def send(self, event: dict) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._send, event)

    def _send(self, event: dict) -> None:
        self.app.send_task(RECORD_FEEDBACK_TASK, args=[event],
                           argsrepr=repr((event["message_id"],)), kwargsrepr="{}")

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class Receiver:
    """State shared by every request: the token, Redis for dedup and the task queue."""

    def __init__(self, token: str, redis_client: redis.asyncio.Redis, queue: CeleryQueue,
                 dedup_ttl_seconds: int):
        self._token = token.encode("utf-8")
        self.redis = redis_client
        self.queue = queue
        self.dedup_ttl_seconds = dedup_ttl_seconds
        self.warnings = ThrottledWarnings()

    def is_authorized(self, header: str | None) -> bool:
        """Check an Authorization header against the bearer token in constant time."""
        scheme, _, presented = (header or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(presented.strip().encode("utf-8"), self._token)

    async def claim(self, message_id: str) -> bool:
        """Mark the message as seen; return False when it was seen before (a duplicate)."""
        key = f"{DEDUP_KEY_PREFIX}:{message_id}"
        return bool(await self.redis.set(key, "1", nx=True, ex=self.dedup_ttl_seconds))

    async def release(self, message_id: str) -> None:
        """Forget the message, so 1C-Connect's retry of it is accepted."""
        await self.redis.delete(f"{DEDUP_KEY_PREFIX}:{message_id}")

    async def close(self) -> None:
        self.queue.close()
        await self.redis.aclose()


@tornado.web.stream_request_body
class EventsHandler(tornado.web.RequestHandler):
    """POST /connect/events/: one 1C-Connect event per request."""

    def initialize(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self._body = bytearray()
        self._body_bytes = 0

    def prepare(self) -> None:
        """Reject a request without the token, or with a declared body over the limits."""
        if not self.receiver.is_authorized(self.request.headers.get("Authorization")):
            self.receiver.warnings.warning(
                "unauthorized", "Запрос с %s отклонён (401): нет верного bearer-токена "
                "FEEDBACK_TOKEN.", self.request.remote_ip)
            self.set_header("WWW-Authenticate", 'Bearer realm="connect-events"')
            self._reply(401, "Нужен верный bearer-токен.")
            return

        declared = self.request.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_DRAIN_BYTES:
            self._reject_too_large(int(declared))
            return
        self.request.connection.set_max_body_size(MAX_DRAIN_BYTES)

    def data_received(self, chunk: bytes) -> None:
        self._body_bytes += len(chunk)
        if self._body_bytes <= MAX_EVENT_BYTES:
            self._body += chunk

    async def post(self) -> None:
        if self._body_bytes > MAX_EVENT_BYTES:
            self._reject_too_large(self._body_bytes)
            return

        try:
            event = parse_event_body(bytes(self._body))
            reason = ignore_reason(event)
            message = None if reason else client_message(event)
        except InvalidEventError as error:
            log.info("Событие с %s отклонено (400): %s.", self.request.remote_ip, error)
            self._reply(400, f"Неверное событие: {error}.")
            return

        if message is None:
            log.debug("Событие %s пропущено: %s.", event.get("message_id", "?"), reason)
            self._reply(200)
            return
        await self._queue_once(event, message.message_id)

    async def _queue_once(self, event: dict, message_id: str) -> None:
        """Queue the event unless its message_id was queued before."""
        try:
            if not await self.receiver.claim(message_id):
                log.info("Событие %s пришло повторно (дубль по message_id) и пропущено.",
                         message_id)
                self._reply(200)
                return
        except redis.exceptions.RedisError as error:
            log.error("Событие %s не принято: Redis недоступен (%s); 1С-Коннект "
                      "получит 503.", message_id, type(error).__name__)
            self._reply(503, "Приёмник временно недоступен.")
            return

        try:
            await self.receiver.queue.send(event)
        except Exception as error:  # noqa: BLE001  (kombu raises many unrelated types)
            log.error("Событие %s не поставлено в очередь Celery (%s); 1С-Коннект получит "
                      "503 и сможет повторить.", message_id, type(error).__name__)
            await self._release_quietly(message_id)
            self._reply(503, "Приёмник временно недоступен.")
            return

        log.info("Событие %s от клиента %s на линии %s принято и передано в обработку.",
                 message_id, event.get("user_id"), event.get("line_id"))
        self._reply(200)

    async def _release_quietly(self, message_id: str) -> None:
        try:
            await self.receiver.release(message_id)
        except redis.exceptions.RedisError:
            log.warning("Событие %s: отметку о получении не удалось снять; повтор от "
                        "1С-Коннект будет принят за дубль.", message_id)

    def _reject_too_large(self, size: int) -> None:
        self.receiver.warnings.warning(
            "too_large", "Запрос с %s отклонён (413): тело %d байт больше предела %d байт.",
            self.request.remote_ip, size, MAX_EVENT_BYTES)
        self._reply(413, f"Тело запроса больше {MAX_EVENT_BYTES} байт.")

    def _reply(self, status: int, error: str | None = None) -> None:
        self.set_status(status)
        self.finish({"error": error} if error else {})

    def write_error(self, status_code: int, **kwargs) -> None:
        self.finish({"error": "Внутренняя ошибка приёмника." if status_code >= 500
                     else "Запрос отклонён."})


def parse_event_body(body: bytes) -> dict:
    """Decode a UTF-8 JSON object and keep its documented fields; raise InvalidEventError."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidEventError(f"тело запроса не является JSON в UTF-8 ({error})") from None
    if not isinstance(data, dict):
        raise InvalidEventError("тело запроса должно быть JSON-объектом")
    return trim_event(data)


def make_app(receiver: Receiver) -> tornado.web.Application:
    """Build the Tornado application with the events route only."""
    return tornado.web.Application(
        [(EVENTS_PATH.rstrip("/") + "/?", EventsHandler, {"receiver": receiver})],
        log_function=_log_request,
    )


def start_server(receiver: Receiver, host: str, port: int) -> tornado.httpserver.HTTPServer:
    """Listen on host:port in the running event loop and return the server."""
    server = tornado.httpserver.HTTPServer(
        make_app(receiver),
        max_body_size=MAX_DRAIN_BYTES,
        body_timeout=BODY_TIMEOUT_SECONDS,
        idle_connection_timeout=IDLE_CONNECTION_TIMEOUT_SECONDS,
        xheaders=True,
    )
    server.listen(port, host)
    return server


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Log each request at DEBUG; the handler logs rejections and accepted events itself."""
    request = handler.request
    log.debug("%s %s -> %d за %.1f мс", request.method, request.path, handler.get_status(),
              request.request_time() * 1000)
