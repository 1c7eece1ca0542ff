"""One request budget for all workers on all hosts, kept in Redis.

Built on the `limits` library's moving-window strategy over its Redis storage, so the
per-second and per-minute counts are exact across processes without a script of our own.
A permit is a hit in the per-second window followed by a hit in the per-minute window.
The caller first checks that the minute window has room, so per-second permits are not
spent while the minute is full. When the minute window fills between the check and the
hit, the caller waits and starts over with a fresh per-second hit, so the per-second
window always contains the time a request really left.

The budget keeps headroom below the account's limits: a request reaches the API some
milliseconds after its permit, and requests delayed by different amounts can land closer
together at the server than their permits were. 20 % of the per-second limit covers
that (16 of 20 a second); the per-minute limit, which bounds sustained throughput, keeps
1 % (594 of 600). The headroom absorbs jitter only up to a point: a request held back
for most of a second can still meet the next second's requests at the server.

A 429 that still happens pauses every worker for the server's Retry-After, and then
halves the budget for PENALTY_SECONDS.

NOTE: `limits` stamps entries with each client's own clock (time.time()), so hosts that
share one budget need synchronised clocks (NTP); a host running ahead or behind skews
the window by its offset.
"""

import hashlib
import logging
import math
import time

from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from delivery.connections import client_options, connect_redis
from delivery.errors import PermitWaitTimeoutError

log = logging.getLogger(__name__)

MAX_SLEEP_SECONDS = 1.0
MIN_SLEEP_SECONDS = 0.005
# Share of each limit kept unused as headroom for network jitter.
PER_SECOND_HEADROOM = 0.2
PER_MINUTE_HEADROOM = 0.01
# After a 429, the budget is halved for this long, s.
PENALTY_SECONDS = 60.0
# The pause after a 429 lasts the server's Retry-After, but at least / at most this, s.
MIN_PAUSE_SECONDS = 1.0
MAX_PAUSE_SECONDS = 60.0


def limits_uri(redis_url: str) -> str:
    """Translate a redis-py URL into the scheme the `limits` storage expects."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://"):]
    return redis_url


def account_key(base_url: str, login: str) -> str:
    """Return a short, non-secret key for one API account's budget."""
    return hashlib.sha256(f"{base_url}|{login}".encode()).hexdigest()[:16]


def with_headroom(limit: int, share: float) -> int:
    """Return `limit` less `share` of it (at least one request less when limit > 1)."""
    if limit <= 1:
        return limit
    return max(1, limit - max(1, math.ceil(limit * share)))


class GlobalRateLimiter:
    """Blocks each caller until both the per-second and per-minute windows allow a request."""

    def __init__(self, redis_url: str, per_second: int, per_minute: int, account: str,
                 *, max_wait_seconds: float = 30.0, clock=time.monotonic, sleep=time.sleep):
        self._strategy = MovingWindowRateLimiter(RedisStorage(limits_uri(redis_url),
                                                              **client_options()))
        self._redis = connect_redis(redis_url)
        second = with_headroom(per_second, PER_SECOND_HEADROOM)
        minute = with_headroom(per_minute, PER_MINUTE_HEADROOM)
        self._normal = (RateLimitItemPerSecond(second), RateLimitItemPerMinute(minute))
        self._reduced = (RateLimitItemPerSecond(max(1, second // 2)),
                         RateLimitItemPerMinute(max(1, minute // 2)))
        self._account = account
        self._pause_key = f"courier:ratelimit:{account}:pause"
        self._penalty_key = f"courier:ratelimit:{account}:penalty"
        self._max_wait_seconds = max_wait_seconds
        self._clock = clock
        self._sleep = sleep

    def acquire(self) -> None:
        """Wait for a permit in both windows and for any pause a 429 imposed.

        Raises PermitWaitTimeoutError, with the estimated wait as retry_after, when no
        permit comes within `max_wait_seconds`; the task then retries instead of holding
        a worker process.
        """
        deadline = self._clock() + self._max_wait_seconds
        self._wait_out_pause(deadline)
        while True:
            second, minute = self._windows()
            # Look at the minute window first: a per-second permit taken while the minute
            # is full would be wasted and delay the next request by up to a second.
            if not self._strategy.test(minute, "connect", self._account, "minute"):
                self._sleep_or_give_up(minute, "minute", deadline)
                continue
            if not self._strategy.hit(second, "connect", self._account, "second"):
                self._sleep_or_give_up(second, "second", deadline)
                continue
            if self._strategy.hit(minute, "connect", self._account, "minute"):
                return
            self._sleep_or_give_up(minute, "minute", deadline)

    def slow_down(self, retry_after_seconds: float | None) -> None:
        """Pause every worker's requests after the API returned 429, then halve the budget."""
        pause = min(MAX_PAUSE_SECONDS, max(MIN_PAUSE_SECONDS, retry_after_seconds or 0))
        self._redis.set(self._pause_key, "1", px=max(1, int(pause * 1000)))
        self._redis.set(self._penalty_key, "1", px=int((pause + PENALTY_SECONDS) * 1000))
        log.warning("1С-Коннект ответил 429: все воркеры приостанавливают запросы на %.1f с, "
                    "затем %.0f с работают с половиной лимита.", pause, PENALTY_SECONDS)

    def _windows(self):
        """Return the (per-second, per-minute) items: halved while a 429 penalty lasts."""
        return self._reduced if self._redis.exists(self._penalty_key) else self._normal

    def _wait_out_pause(self, deadline: float) -> None:
        while (remaining_ms := self._redis.pttl(self._pause_key)) > 0:
            if self._clock() + remaining_ms / 1000 > deadline:
                raise self._timeout(remaining_ms / 1000)
            self._sleep(min(MAX_SLEEP_SECONDS, remaining_ms / 1000))

    def _sleep_or_give_up(self, window, name: str, deadline: float) -> None:
        stats = self._strategy.get_window_stats(window, "connect", self._account, name)
        wait = max(MIN_SLEEP_SECONDS, stats.reset_time - time.time())
        if self._clock() + min(wait, MAX_SLEEP_SECONDS) > deadline:
            raise self._timeout(wait)
        self._sleep(min(MAX_SLEEP_SECONDS, wait))

    def _timeout(self, wait_seconds: float) -> PermitWaitTimeoutError:
        return PermitWaitTimeoutError(
            f"Общий лимит запросов к 1С-Коннект исчерпан дольше {self._max_wait_seconds:.0f} с; "
            "курьер повторит отправку позже.", retry_after=wait_seconds)
