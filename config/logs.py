"""One logging configuration for every courier process: text or JSON lines, repeats limited."""

import json
import logging
import sys
import threading
import time

TEXT_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"
# The same message from the same place is written at most once per this many seconds.
REPEAT_WINDOW_SECONDS = 60.0


class JsonLinesFormatter(logging.Formatter):
    """One JSON object a line, for log shippers (Vector, Fluent Bit, Promtail)."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.processName,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


class RepeatFilter(logging.Filter):
    """Drops a record identical to one logged less than REPEAT_WINDOW_SECONDS ago.

    The next record that passes after a pause reports how many repeats were dropped.
    """

    def __init__(self, window_seconds: float = REPEAT_WINDOW_SECONDS, clock=time.monotonic):
        super().__init__()
        self.window_seconds = window_seconds
        self.clock = clock
        self._last_seen: dict[tuple, list] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.getMessage())
        now = self.clock()
        with self._lock:
            seen = self._last_seen.get(key)
            if seen is not None and now - seen[0] < self.window_seconds:
                seen[1] += 1
                return False
            suppressed = seen[1] if seen else 0
            self._last_seen[key] = [now, 0]
            if len(self._last_seen) > 10_000:
                self._last_seen.clear()
        if suppressed:
            record.msg = f"{record.getMessage()} (повторов за {self.window_seconds:.0f} с " \
                         f"скрыто: {suppressed})"
            record.args = ()
        return True


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    """Send log lines to stderr in one format; quiet the chatty libraries."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonLinesFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("urllib3", "watchdog", "kombu", "amqp", "tornado.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
