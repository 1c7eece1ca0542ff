"""The Celery task that records a client's reply as feedback: `courier.record_feedback`.

The webhook receiver queues it with the trimmed event as its only argument (plain JSON).
"""

import logging
from functools import lru_cache

import redis
from celery import Task

from delivery.retry import RetryPolicy, backoff_seconds
from feedback.events import InvalidEventError
from feedback.files import TransientFileDownloadError
from feedback.intake import FeedbackIntake
from tasks.application import app
from tasks.runtime import get_runtime

log = logging.getLogger(__name__)

RECORD_FEEDBACK_TASK = "courier.record_feedback"

# Retries when a client's file or Redis is briefly unavailable; after the last one the
# record is written with the file marked as not stored.
MAX_RETRIES = 5
RETRY_POLICY = RetryPolicy(base_seconds=10.0, cap_seconds=300.0)


@lru_cache(maxsize=1)
def get_intake() -> FeedbackIntake:
    """Build the intake from the worker's runtime once per process."""
    runtime = get_runtime()
    settings = runtime.settings
    return FeedbackIntake(
        redis=runtime.redis,
        folders=runtime.folders,
        window_days=settings.FEEDBACK_WINDOW_DAYS,
        session=runtime.client.session,
        base_url=settings.CONNECT_BASE_URL,
        max_file_bytes=settings.max_file_bytes,
        timeout=runtime.client.timeout,
    )


@app.task(bind=True, name=RECORD_FEEDBACK_TASK, max_retries=MAX_RETRIES, acks_late=True,
          ignore_result=True)
def record_feedback(self: Task, event: dict) -> dict | None:
    """Record one client message as feedback on the document it replies to."""
    final_attempt = self.request.retries >= MAX_RETRIES
    try:
        record = get_intake().handle(event, final_attempt=final_attempt)
    except InvalidEventError as error:
        log.warning("Событие %s не обработано: %s.", _message_id(event), error)
        return None
    except (TransientFileDownloadError, redis.ConnectionError, redis.TimeoutError) as error:
        delay = backoff_seconds(self.request.retries, RETRY_POLICY)
        log.warning("Событие %s: %s Повтор через %.0f с.", _message_id(event), error, delay)
        raise self.retry(countdown=delay, argsrepr=describe_for_flower(event),
                         kwargsrepr="{}")

    # Ids only: Celery logs the return value, and the reply's text is personal data.
    if record is None:
        return None
    return {"document_id": record["document_id"], "message_id": record["message_id"]}


def describe_for_flower(event: dict) -> str:
    """Describe the task by message id only: the text is personal data."""
    return repr((_message_id(event),))


def _message_id(event) -> str:
    value = event.get("message_id") if isinstance(event, dict) else None
    return value if isinstance(value, str) else "без message_id"
