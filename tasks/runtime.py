"""Per-process objects a worker needs: Redis, the API client, ledger, limiter, directory.

Built lazily on first use, after the prefork pool has forked, so no socket is shared
between worker processes.
"""

from dataclasses import dataclass
from functools import lru_cache

import redis

from config import Settings, SettingsError, load_settings, missing_setting
from delivery.client import ConnectClient
from delivery.connections import connect_redis
from delivery.directory import RecipientDirectory
from delivery.folders import CourierFolders
from delivery.ledger import DeliveryLedger
from delivery.ratelimit import GlobalRateLimiter, account_key
from delivery.rebuild import LedgerGuard
from delivery.retry import RetryPolicy
from delivery.service import DropDeliverer
from delivery.timing import TIMING, Timing


@dataclass
class Runtime:
    """Everything a delivery task uses, built once per process."""

    settings: Settings
    folders: CourierFolders
    redis: redis.Redis
    client: ConnectClient
    limiter: GlobalRateLimiter
    directory: RecipientDirectory
    ledger: DeliveryLedger
    deliverer: DropDeliverer
    policy: RetryPolicy
    guard: LedgerGuard
    timing: Timing


def require_connect_credentials(settings: Settings) -> None:
    """Raise SettingsError when the API login or password is missing."""
    if not settings.CONNECT_LOGIN:
        raise missing_setting("CONNECT_LOGIN", "логин пользователя API 1С-Коннект")
    if settings.CONNECT_PASSWORD is None:
        raise missing_setting("CONNECT_PASSWORD", "пароль пользователя API 1С-Коннект")


def build_ledger_guard(settings: Settings, redis_client: redis.Redis) -> LedgerGuard:
    """Build the guard that rebuilds the dedup ledger from receipts when Redis lost it."""
    ledger = DeliveryLedger(redis_client, settings.DEDUP_DAYS)
    return LedgerGuard(redis_client, ledger, CourierFolders(settings.COURIER_ROOT),
                       settings.CONNECT_LINE_ID, TIMING.rebuild_wait_seconds)


@lru_cache(maxsize=1)
def get_runtime() -> Runtime:
    """Build the runtime from the settings; raises SettingsError when credentials are missing."""
    settings = load_settings()
    require_connect_credentials(settings)
    account = account_key(settings.CONNECT_BASE_URL, settings.CONNECT_LOGIN)
    redis_client = connect_redis(settings.REDIS_URL)
    limiter = GlobalRateLimiter(settings.REDIS_URL, settings.CONNECT_RATE_PER_SECOND,
                                settings.CONNECT_RATE_PER_MINUTE, account,
                                max_wait_seconds=TIMING.permit_wait_seconds)
    client = ConnectClient(settings.CONNECT_BASE_URL, settings.CONNECT_LOGIN,
                           settings.CONNECT_PASSWORD.get_secret_value(), limiter=limiter)
    directory = RecipientDirectory(redis_client, account, client.list_subscribers)
    ledger = DeliveryLedger(redis_client, settings.DEDUP_DAYS)
    folders = CourierFolders(settings.COURIER_ROOT)
    guard = LedgerGuard(redis_client, ledger, folders, settings.CONNECT_LINE_ID,
                        TIMING.rebuild_wait_seconds)
    policy = RetryPolicy.from_timing(TIMING, settings.DELIVERY_MAX_AGE_HOURS * 3600)
    deliverer = DropDeliverer(settings, client, directory, ledger, redis_client, guard)
    return Runtime(settings, folders, redis_client, client, limiter, directory, ledger,
                   deliverer, policy, guard, TIMING)


__all__ = ["Runtime", "build_ledger_guard", "get_runtime", "require_connect_credentials",
           "SettingsError"]
