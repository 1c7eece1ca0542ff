"""Find drops in work/ that no task will ever pick up, and queue them again.

Two kinds are found: drops whose in-flight marker lapsed (the message was lost, or never
sent), and drops whose recipient lease expired (the task died mid-upload). Workers also
check at start that Redis keeps its data and that the dedup ledger is complete.
"""

import logging

import redis
from celery import Celery
from celery.signals import worker_ready

from config import load_settings
from delivery.connections import connect_redis
from delivery.drop import CLAIM_FILE
from delivery.errors import InvalidDropError, LedgerRebuildingError
from delivery.folders import CourierFolders, read_json
from delivery.ledger import DeliveryLedger
from delivery.sidecar import read_sidecar
from tasks.queueing import has_live_task, is_drop_locked, queue_drop

log = logging.getLogger(__name__)

# Redis settings without which queued drops and the ledger do not survive a restart.
REQUIRED_REDIS_CONFIG = {"appendonly": "yes", "maxmemory-policy": "noeviction"}


def requeue_orphaned_drops(app: Celery, redis_client: redis.Redis,
                           folders: CourierFolders) -> list[str]:
    """Queue every fully claimed drop in work/ that has no live task; return their ids."""
    requeued = []
    if not folders.work.is_dir():
        return requeued
    for folder in sorted(folders.work.iterdir()):
        claim_path = folder / CLAIM_FILE
        if not folder.is_dir() or not claim_path.exists():
            continue
        drop_id = folder.name
        if has_live_task(redis_client, drop_id):
            continue
        sidecar = _sidecar_or_none(folder, claim_path)
        queue_drop(app, redis_client, drop_id, sidecar)
        log.warning("Дроп %s лежал в work/ без задачи Celery; поставлен в очередь заново.",
                    drop_id)
        requeued.append(drop_id)
    return requeued


def requeue_expired_leases(app: Celery, redis_client: redis.Redis, folders: CourierFolders,
                           ledger: DeliveryLedger) -> list[str]:
    """Queue again every drop in work/ whose `sending` lease expired; return their ids.

    A lease outlives the task's hard time limit, so an expired one means the task died
    mid-upload. The stale lease is removed either way; a drop that left work/ or whose
    lock is held by a running task is not queued.
    """
    requeued = []
    for lease in ledger.expired_leases():
        drop_id = lease.drop_id
        folder = folders.work_dir(drop_id) if drop_id else None
        owed = folder is not None and (folder / CLAIM_FILE).exists()
        if owed and drop_id not in requeued and not is_drop_locked(redis_client, drop_id):
            queue_drop(app, redis_client, drop_id, _sidecar_or_none(folder, folder / CLAIM_FILE))
            log.warning("Дроп %s: аренда отправки истекла (задача прервалась во время "
                        "загрузки); дроп поставлен в очередь заново.", drop_id)
            requeued.append(drop_id)
        ledger.clear_expired_lease(lease)
    return requeued


def _sidecar_or_none(folder, claim_path):
    """Return the parsed sidecar for the Flower label; the task itself reports a bad one."""
    try:
        return read_sidecar(folder / read_json(claim_path)["sidecar"])
    except (OSError, ValueError, KeyError, InvalidDropError):
        return None


def check_redis_durability(redis_client: redis.Redis) -> list[str]:
    """Log an ERROR for each Redis setting that loses queued drops on restart; return them."""
    wrong = []
    try:
        for name, expected in REQUIRED_REDIS_CONFIG.items():
            actual = redis_client.config_get(name).get(name)
            if actual != expected:
                wrong.append(name)
                log.error("В Redis %s = %s, а нужно %s: иначе после перезапуска или при "
                          "нехватке памяти Redis теряет очередь и журнал доставок. Задайте "
                          "%s %s в redis.conf.", name, actual, expected, name, expected)
    except redis.ResponseError:
        log.info("Redis не разрешает CONFIG GET; проверьте сами, что в нём включены "
                 "appendonly yes и maxmemory-policy noeviction.")
    return wrong


@worker_ready.connect
def _prepare_redis_at_start(**_kwargs) -> None:
    """Check Redis durability and rebuild a lost ledger before the worker's first delivery.

    Runs in the worker's main process with a client of its own, so no socket is shared
    with the pool. Each delivery checks the ledger again, so a failure here only delays
    the rebuild to the first task.
    """
    from tasks.runtime import build_ledger_guard

    settings = load_settings()
    client = connect_redis(settings.REDIS_URL)
    try:
        check_redis_durability(client)
        build_ledger_guard(settings, client).ensure_ready()
    except (redis.RedisError, OSError, LedgerRebuildingError) as error:
        log.warning("Проверка Redis при запуске воркера не удалась (%s); журнал доставок "
                    "будет проверен перед первой отправкой.", error)
    finally:
        client.close()
