"""Resources every admin command uses: the Celery app, the settings, the folders and Redis."""

from dataclasses import dataclass, field

import click
import redis
from celery import Celery

from config import Settings, load_settings
from delivery.folders import CourierFolders
from delivery.ledger import DeliveryLedger

# Time limits of the CLI's Redis connection in seconds, short so an admin soon learns it is down.
REDIS_CONNECT_TIMEOUT_SECONDS = 3
REDIS_COMMAND_TIMEOUT_SECONDS = 10

_META_KEY = "courier.context"


@dataclass
class CourierContext:
    """The Celery app from Celery's own CLI context, plus lazily opened courier resources."""

    app: Celery
    settings: Settings
    folders: CourierFolders
    _redis: redis.Redis | None = field(default=None, repr=False)

    @property
    def redis(self) -> redis.Redis:
        """Connect to REDIS_URL on first use, raising redis.ConnectionError when it is down."""
        if self._redis is None:
            client = redis.Redis.from_url(
                self.settings.REDIS_URL,
                socket_connect_timeout=REDIS_CONNECT_TIMEOUT_SECONDS,
                socket_timeout=REDIS_COMMAND_TIMEOUT_SECONDS)
            client.ping()
            self._redis = client
        return self._redis

    def check_redis(self) -> None:
        """Connect now, so a down Redis stops the command before it changes anything."""
        _ = self.redis

    @property
    def ledger(self) -> DeliveryLedger:
        return DeliveryLedger(self.redis, self.settings.DEDUP_DAYS)

    def line_id_of(self, sidecar) -> str | None:
        """Return the support line a drop goes to: its own line_id or CONNECT_LINE_ID."""
        own = sidecar.line_id if sidecar is not None else None
        return own or self.settings.CONNECT_LINE_ID


def courier_context(ctx: click.Context) -> CourierContext:
    """Return the command's CourierContext, built once per invocation from Celery's ctx.obj."""
    existing = ctx.meta.get(_META_KEY)
    if existing is not None:
        return existing
    settings = load_settings()
    context = CourierContext(app=ctx.obj.app, settings=settings,
                             folders=CourierFolders(settings.COURIER_ROOT))
    ctx.meta[_META_KEY] = context
    return context
