"""Queue a claimed drop for delivery and remember that it has a live task.

The watcher, beat's recovery job and the admin CLI all queue through here, so every
delivery task carries the same Flower description and the same in-flight marker.
"""

import redis
from celery import Celery

from delivery.comments import title
from delivery.sidecar import Sidecar
from delivery.timing import TIMING

DELIVER_TASK = "courier.deliver_drop"
# Margin on top of the visibility timeout before a queued drop counts as orphaned, s.
INFLIGHT_MARGIN_SECONDS = TIMING.inflight_margin_seconds


def inflight_key(drop_id: str) -> str:
    return f"courier:inflight:{drop_id}"


def drop_lock_key(drop_id: str) -> str:
    """Return the key of the lock that lets only one task at a time deliver the drop."""
    return f"courier:lock:drop:{drop_id}"


def is_drop_locked(redis_client: redis.Redis, drop_id: str) -> bool:
    return bool(redis_client.exists(drop_lock_key(drop_id)))


def describe_for_flower(drop_id: str, sidecar: Sidecar | None) -> str:
    """Describe a task for Flower: number, kind, client and recipient count, no personal data."""
    if sidecar is None:
        return repr((drop_id,))
    client = sidecar.client.name if sidecar.client and sidecar.client.name else "клиент не указан"
    summary = f"{title(sidecar)}; {client}; получателей: {len(sidecar.recipients)}"
    return repr((drop_id, summary))


def mark_inflight(redis_client: redis.Redis, drop_id: str, countdown_seconds: float = 0) -> None:
    """Record that a task for `drop_id` is queued or scheduled `countdown_seconds` ahead.

    The marker outlives the point where Redis would re-deliver a lost copy of the message;
    after that, beat's recovery scan queues the drop again.
    """
    ttl = int(countdown_seconds + TIMING.visibility_timeout_seconds + INFLIGHT_MARGIN_SECONDS)
    redis_client.set(inflight_key(drop_id), "1", ex=ttl)


def mark_running(redis_client: redis.Redis, drop_id: str) -> None:
    """Record that a task for `drop_id` runs now; the marker lapses soon after the hard time limit.

    If the task's message is then lost (its retry could not be published, say), beat
    queues the drop again without waiting for the visibility timeout.
    """
    ttl = int(TIMING.task_time_limit_seconds + INFLIGHT_MARGIN_SECONDS)
    redis_client.set(inflight_key(drop_id), "1", ex=ttl)


def clear_inflight(redis_client: redis.Redis, drop_id: str) -> None:
    redis_client.delete(inflight_key(drop_id))


def has_live_task(redis_client: redis.Redis, drop_id: str) -> bool:
    return bool(redis_client.exists(inflight_key(drop_id)))


def queue_drop(app: Celery, redis_client: redis.Redis, drop_id: str,
               sidecar: Sidecar | None) -> None:
    """Send one delivery task whose only argument is the drop id."""
    mark_inflight(redis_client, drop_id)
    try:
        app.send_task(DELIVER_TASK, args=[drop_id],
                      argsrepr=describe_for_flower(drop_id, sidecar), kwargsrepr="{}")
    except Exception:
        # Without the task the marker would hide the drop from recovery until it expires.
        clear_inflight(redis_client, drop_id)
        raise
