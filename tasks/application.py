"""The Celery application: broker, serializer and crash-safety settings in one place."""

import redis
from celery import Celery
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis

from config import SettingsError, exit_on_settings_error, load_settings
from delivery.timing import TIMING

DELIVERY_QUEUE = "courier"

# Beat intervals, s.
DIRECTORY_REFRESH_SECONDS = 15 * 60
STALE_CLAIM_SCAN_SECONDS = TIMING.recovery_scan_seconds


class _RedisChannel(kombu_redis.Channel):
    """kombu's Redis channel, made safe to close after its connection was already closed."""

    def _connparams(self, asynchronous=False):
        # NOTE: with kombu 5.7.0, a worker that loses Redis closes its broker connection
        # twice. The second close tries to restore unacked messages through a transport
        # whose client is already None, and the AttributeError stops the worker
        # ("Unrecoverable error"). A connection error instead makes kombu skip the
        # restore, so the messages stay in Redis's unacked set until the visibility-timeout
        # sweep returns them. tests/test_faults.py reproduces both the crash and the fix.
        if self.connection.client is None:
            raise redis.ConnectionError("соединение с брокером Redis уже закрыто")
        return super()._connparams(asynchronous=asynchronous)


class CourierRedisTransport(kombu_redis.Transport):
    """The Redis transport with a channel that survives a double close after a Redis restart."""

    Channel = _RedisChannel


def use_courier_transport() -> None:
    """Make redis:// and rediss:// broker URLs load CourierRedisTransport.

    An alias, not the broker_transport setting: with that setting the broker URL starts
    with the class path, and Flower, which picks its queue-length client by the URL's
    scheme, stops showing queue lengths.
    """
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = f"{__name__}:CourierRedisTransport"


def broker_transport_options() -> dict:
    """Return the Redis transport options that crash safety depends on (see delivery.timing).

    The visibility timeout is set here explicitly: an unacked message, a countdown retry
    held by a worker included, goes back to the queue after it. Retry countdowns plus the
    task's hard time limit stay below it. The restore sweep runs every
    `restore_interval_seconds * restore_throttle` seconds (100 s in production).
    """
    return {
        "visibility_timeout": TIMING.visibility_timeout_seconds,
        "unacked_restore_interval": TIMING.restore_interval_seconds,
        "unacked_restore_throttle": TIMING.restore_throttle,
        # A dead TCP connection to Redis is noticed within these, instead of never.
        "socket_timeout": 30,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
        "health_check_interval": 10,
    }


def create_app() -> Celery:
    """Build the Celery app from the settings; a bad setting stops the process."""
    use_courier_transport()
    try:
        settings = load_settings()
    except SettingsError as error:
        exit_on_settings_error(error)

    app = Celery("courier", broker=settings.REDIS_URL, include=["tasks.delivery",
                                                                 "tasks.periodic",
                                                                 "feedback.tasks"])
    app.conf.update(
        # JSON only: task arguments are plain ids, never pickled objects.
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_default_queue=DELIVERY_QUEUE,
        # A worker killed mid-task leaves the message unacked, and Redis re-delivers it
        # after the visibility timeout. A pool process killed mid-task (SIGKILL, OOM)
        # makes the main process reject the message with requeue at once.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=TIMING.task_time_limit_seconds,
        task_soft_time_limit=TIMING.task_soft_time_limit_seconds,
        broker_transport_options=broker_transport_options(),
        # Reconnect forever after Redis restarts, at start and while running.
        broker_connection_retry=True,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_channel_error_retry=True,
        # A task running when the broker connection drops goes on: its uploads are not
        # cut off halfway, and if its ack is lost the copy Redis re-delivers finds the
        # drop gone from work/ and sends nothing.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # Celery's rate_limit counts per worker process; the shared limit lives in
        # delivery.ratelimit instead.
        worker_disable_rate_limits=True,
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
