"""The watcher's heartbeat in Redis, and the reader a health check calls.

Each watcher process writes `courier:watcher:heartbeat:<host>:<pid>` after every loop
turn, including turns whose scan failed because the inbox was unavailable, and deletes
it when it stops cleanly. The value
contains the wall-clock time of the last successful scan. So a health check can
distinguish a dead watcher (the key ages, then expires) from a live one that cannot
read its inbox (the key is fresh but the last scan is old).
"""

import json
import time
from dataclasses import dataclass

import redis

HEARTBEAT_PREFIX = "courier:watcher:heartbeat:"
# A heartbeat key outlives its watcher by this long, so a health check can still see
# and report a watcher that died, s.
HEARTBEAT_TTL_SECONDS = 300


@dataclass
class Heartbeat:
    """One watcher's report about itself.

    Times are Unix seconds; `scan_seconds` is how long the last turn's scan took.
    """

    watcher: str
    written_at: float
    last_scan_at: float | None
    scan_seconds: float
    pending: int
    claimed_total: int
    mode: str
    inbox_available: bool
    observer_alive: bool | None

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


@dataclass
class WatcherHealth:
    """A heartbeat read back, with ages in seconds relative to the reader's clock."""

    watcher: str
    age_seconds: float
    last_scan_age_seconds: float | None
    scan_seconds: float
    pending: int
    claimed_total: int
    mode: str
    inbox_available: bool
    observer_alive: bool | None

    def is_healthy(self, max_age_seconds: float) -> bool:
        """True when the watcher is alive and scanned its inbox within `max_age_seconds`."""
        return (self.age_seconds <= max_age_seconds
                and self.last_scan_age_seconds is not None
                and self.last_scan_age_seconds <= max_age_seconds)


def write_heartbeat(redis_client: redis.Redis, heartbeat: Heartbeat) -> None:
    """Store one watcher's heartbeat; raises redis.RedisError when Redis is unreachable."""
    redis_client.set(HEARTBEAT_PREFIX + heartbeat.watcher, heartbeat.to_json(),
                     ex=HEARTBEAT_TTL_SECONDS)


def remove_heartbeat(redis_client: redis.Redis, watcher: str) -> None:
    """Delete a watcher's heartbeat when it stops cleanly, so health checks see it gone at once."""
    redis_client.delete(HEARTBEAT_PREFIX + watcher)


def read_heartbeats(redis_client: redis.Redis, now: float | None = None) -> list[WatcherHealth]:
    """Return every watcher's latest heartbeat, oldest last scan first."""
    now = time.time() if now is None else now
    keys = sorted(redis_client.scan_iter(match=HEARTBEAT_PREFIX + "*", count=100))
    values = redis_client.mget(keys) if keys else []

    found = []
    for raw in values:
        if raw is None:
            continue
        data = json.loads(raw)
        last_scan = data.get("last_scan_at")
        found.append(WatcherHealth(
            watcher=data["watcher"],
            age_seconds=max(0.0, now - data["written_at"]),
            last_scan_age_seconds=None if last_scan is None else max(0.0, now - last_scan),
            scan_seconds=data.get("scan_seconds", 0.0),
            pending=data["pending"],
            claimed_total=data["claimed_total"],
            mode=data["mode"],
            inbox_available=data["inbox_available"],
            observer_alive=data.get("observer_alive"),
        ))
    found.sort(key=_last_scan_age, reverse=True)
    return found


def _last_scan_age(health: WatcherHealth) -> float:
    """Age of the last scan, with "never scanned" as the oldest."""
    if health.last_scan_age_seconds is None:
        return float("inf")
    return health.last_scan_age_seconds
