"""Admin pause switches, kept in Redis: all deliveries, or one support line's."""

import redis

PAUSE_ALL_KEY = "courier:pause:all"


def line_pause_key(line_id: str) -> str:
    return f"courier:pause:line:{line_id}"


def set_paused(redis_client: redis.Redis, paused: bool, line_id: str | None = None) -> None:
    """Pause or resume deliveries for every line (line_id None) or for one line."""
    key = PAUSE_ALL_KEY if line_id is None else line_pause_key(line_id)
    if paused:
        redis_client.set(key, "1")
    else:
        redis_client.delete(key)


def is_paused(redis_client: redis.Redis, line_id: str | None) -> bool:
    """Tell whether deliveries to `line_id` are paused now."""
    keys = [PAUSE_ALL_KEY] + ([line_pause_key(line_id)] if line_id else [])
    return bool(redis_client.exists(*keys))


def paused_lines(redis_client: redis.Redis) -> list[str]:
    """Return the ids of lines paused one by one."""
    prefix = line_pause_key("")
    return sorted(key.decode()[len(prefix):] for key in redis_client.scan_iter(prefix + "*"))
