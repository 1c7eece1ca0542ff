"""Log a lasting condition once per interval instead of once per scan."""

import logging
import time

# Past this many distinct keys the throttle clears them all, so per-drop keys of
# drops long gone cannot grow without bound.
MAX_KEYS = 10_000


class LogThrottle:
    """Lets one log line per key through every `interval_seconds` and counts the rest."""

    def __init__(self, interval_seconds: float, logger: logging.Logger, clock=time.monotonic):
        self.interval_seconds = interval_seconds
        self.logger = logger
        self.clock = clock
        # key -> (monotonic time of the last line written, lines suppressed since)
        self._state: dict[str, tuple[float, int]] = {}

    def error(self, key: str, message: str, *args) -> bool:
        """Log at ERROR unless this key was logged within the interval; return whether logged."""
        return self._log(logging.ERROR, key, message, args)

    def warning(self, key: str, message: str, *args) -> bool:
        """Log at WARNING unless this key was logged within the interval."""
        return self._log(logging.WARNING, key, message, args)

    def reset(self, key: str) -> None:
        """Forget a key once its condition is over, so a new occurrence is logged at once."""
        self._state.pop(key, None)

    def _log(self, level: int, key: str, message: str, args: tuple) -> bool:
        now = self.clock()
        last, suppressed = self._state.get(key, (None, 0))
        if last is not None and now - last < self.interval_seconds:
            self._state[key] = (last, suppressed + 1)
            return False

        if len(self._state) >= MAX_KEYS:
            self._state.clear()
        self._state[key] = (now, 0)
        if suppressed:
            message += " (повторов с прошлой записи: %d)"
            args = (*args, suppressed)
        self.logger.log(level, message, *args)
        return True
