"""The Celery application: broker, serializer and crash-safety settings in one place."""

from celery import Celery

from config import SettingsError, exit_on_settings_error, load_settings
from delivery.retry import (
    TASK_SOFT_TIME_LIMIT_SECONDS,
    TASK_TIME_LIMIT_SECONDS,
    VISIBILITY_TIMEOUT_SECONDS,
)

DELIVERY_QUEUE = "courier"

# Beat intervals, s.
DIRECTORY_REFRESH_SECONDS = 15 * 60
STALE_CLAIM_SCAN_SECONDS = 5 * 60


def create_app() -> Celery:
    """Build the Celery app from the settings; a bad setting stops the process."""
    try:
        settings = load_settings()
    except SettingsError as error:
        exit_on_settings_error(error)

    app = Celery("courier", broker=settings.REDIS_URL, include=["tasks.delivery",
                                                                 "tasks.periodic"])
    app.conf.update(
        # JSON only: task arguments are plain ids, never pickled objects.
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_default_queue=DELIVERY_QUEUE,
        # A worker killed mid-task leaves the message unacked, and Redis re-delivers it.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=TASK_TIME_LIMIT_SECONDS,
        task_soft_time_limit=TASK_SOFT_TIME_LIMIT_SECONDS,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_channel_error_retry=True,
        # Flower needs task events; they carry the argsrepr set at send time.
        worker_send_task_events=True,
        task_send_sent_event=True,
        worker_hijack_root_logger=False,
        enable_utc=True,
        timezone="Europe/Moscow",
        beat_schedule={
            "refresh-recipient-directory": {
                "task": "courier.refresh_recipient_directory",
                "schedule": DIRECTORY_REFRESH_SECONDS,
            },
            "requeue-stale-claims": {
                "task": "courier.requeue_stale_claims",
                "schedule": STALE_CLAIM_SCAN_SECONDS,
            },
        },
    )
    return app


app = create_app()
