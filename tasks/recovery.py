"""Find drops in work/ that no task will ever pick up, and queue them again."""

import logging

import redis
from celery import Celery

from delivery.drop import CLAIM_FILE
from delivery.errors import InvalidDropError
from delivery.folders import CourierFolders
from delivery.sidecar import read_sidecar
from delivery.folders import read_json
from tasks.queueing import has_live_task, queue_drop

log = logging.getLogger(__name__)


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


def _sidecar_or_none(folder, claim_path):
    """Return the parsed sidecar for the Flower label; the task itself reports a bad one."""
    try:
        return read_sidecar(folder / read_json(claim_path)["sidecar"])
    except (OSError, ValueError, KeyError, InvalidDropError):
        return None
