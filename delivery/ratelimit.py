"""One request budget for all workers on all hosts, kept in Redis.

Built on the `limits` library's moving-window strategy over its Redis storage, so the
per-second and per-minute counts are exact across processes without a script of our own.
A permit is taken from the per-second window first and the per-minute window second; a
permit lost when the second window is full only makes the courier slower, never faster
than the account allows.
"""

import hashlib
import logging
import time

import redis
from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

MAX_SLEEP_SECONDS = 1.0
MIN_SLEEP_SECONDS = 0.005


def limits_uri(redis_url: str) -> str:
    """Translate a redis-py URL into the scheme the `limits` storage expects."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://"):]
    return redis_url


def account_key(base_url: str, login: str) -> str:
    """Return a short, non-secret key for one API account's budget."""
    return hashlib.sha256(f"{base_url}|{login}".encode()).hexdigest()[:16]


class GlobalRateLimiter:
    """Blocks each caller until both the per-second and per-minute windows allow a request."""

    def __init__(self, redis_url: str, per_second: int, per_minute: int, account: str,
                 *, clock=time.monotonic, sleep=time.sleep):
        self._strategy = MovingWindowRateLimiter(RedisStorage(limits_uri(redis_url)))
        self._redis = redis.Redis.from_url(redis_url)
        self._windows = (RateLimitItemPerSecond(per_second), RateLimitItemPerMinute(per_minute))
        self._account = account
        self._penalty_key = f"courier:ratelimit:{account}:pause"
        self._clock = clock
        self._sleep = sleep

    def acquire(self) -> None:
        """Wait for a permit in both windows, and for any pause a 429 imposed."""
        self._wait_out_pause()
        for window in self._windows:
            while not self._strategy.hit(window, "connect", self._account):
                self._sleep(self._seconds_until_free(window))

    def slow_down(self, seconds: float) -> None:
        """Pause every worker's requests for `seconds` after the API answered 429."""
        milliseconds = max(1, int(seconds * 1000))
        self._redis.set(self._penalty_key, "1", px=milliseconds)
        log.warning("1С-Коннект ответил 429: все воркеры приостанавливают запросы на %.1f с.",
                    seconds)

    def _wait_out_pause(self) -> None:
        while (remaining_ms := self._redis.pttl(self._penalty_key)) > 0:
            self._sleep(min(MAX_SLEEP_SECONDS, remaining_ms / 1000))

    def _seconds_until_free(self, window) -> float:
        stats = self._strategy.get_window_stats(window, "connect", self._account)
        wait = stats.reset_time - time.time()
        return min(MAX_SLEEP_SECONDS, max(MIN_SLEEP_SECONDS, wait))
