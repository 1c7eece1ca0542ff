"""Sliding-window request limiter that imitates the 1C-Connect API limits."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Callable

SECOND = 1.0
MINUTE = 60.0


class SlidingWindowLimiter:
    """Accept at most N requests in any 1-second window and M in any 60-second window.

    Only accepted requests are counted, so a rejected request does not extend the wait.
    A request at time t is checked against the accepted requests in (t - 1 s, t] and
    (t - 60 s, t]. So a client whose requests arrive at most N within any 1 s and at
    most M within any 60 s is never rejected. A limit of 0 is turned off. `clock`
    returns seconds.
    """

    def __init__(
        self,
        per_second: int,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._accepted: deque[float] = deque()
        self._per_second = per_second
        self._per_minute = per_minute

    def configure(self, per_second: int, per_minute: int) -> None:
        """Change the limits. Requests already accepted keep counting."""
        with self._lock:
            self._per_second = per_second
            self._per_minute = per_minute

    def reset(self) -> None:
        """Forget every accepted request."""
        with self._lock:
            self._accepted.clear()

    def acquire(self) -> int | None:
        """Count one request if the limits allow it.

        Returns None when the request is accepted. Otherwise returns the whole number of
        seconds (at least 1) after which a retry can be accepted, for Retry-After.
        """
        with self._lock:
            now = self._clock()
            self._forget_before(now - MINUTE)

            wait = max(
                self._wait_for(now, self._per_second, SECOND),
                self._wait_for(now, self._per_minute, MINUTE),
            )
            if wait > 0:
                return max(1, math.ceil(wait))

            self._accepted.append(now)
            return None

    def _forget_before(self, cutoff: float) -> None:
        while self._accepted and self._accepted[0] <= cutoff:
            self._accepted.popleft()

    def _wait_for(self, now: float, limit: int, window: float) -> float:
        """Return the seconds until one more request fits the window, 0 if it fits now."""
        if limit <= 0 or len(self._accepted) < limit:
            return 0.0

        # The limit-th newest request leaves the window first among those that fill it.
        blocking = self._accepted[-limit]
        if blocking <= now - window:
            return 0.0

        return blocking + window - now
