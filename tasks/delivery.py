"""The delivery task: one drop id in, the drop delivered, failed or scheduled for retry."""

import logging
import os
import socket
import time
import uuid
from datetime import datetime

import redis
from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded

from delivery.comments import title
from delivery.drop import load_claimed_drop
from delivery.errors import (
    AuthenticationError,
    DeliveryError,
    InvalidDropError,
    TransientDeliveryError,
)
from delivery.folders import read_json
from delivery.pause import is_paused
from delivery.results import fail_drop_folder, finish_drop
from delivery.retry import backoff_seconds, is_expired, retry_delay
from delivery.service import summarize
from delivery.status import DocumentState, RecipientState, write_status
from feedback.correlation import remember_delivery
from tasks.application import app
from delivery.timing import TIMING
from tasks.queueing import (
    DELIVER_TASK,
    clear_inflight,
    describe_for_flower,
    drop_lock_key,
    mark_inflight,
    mark_running,
)
from tasks.runtime import get_runtime

log = logging.getLogger(__name__)

# How often the "credentials rejected" ERROR is logged at most, s.
AUTH_ALERT_INTERVAL_SECONDS = 300
# When another worker holds the drop's lock, look again after this many seconds.
LOCKED_RETRY_SECONDS = TIMING.locked_retry_seconds
# While deliveries are paused, a drop looks again after this many seconds.
PAUSED_RETRY_SECONDS = 30


@app.task(bind=True, name=DELIVER_TASK,
          max_retries=None, acks_late=True)
def deliver_drop(self: Task, drop_id: str) -> dict:
    """Deliver the drop in work/<drop_id>/ to every recipient still owed."""
    runtime = get_runtime()
    try:
        return _deliver_once(self, runtime, drop_id)
    except redis.RedisError as error:
        return _retry_after_redis_error(self, runtime, drop_id, error)


def _deliver_once(task: Task, runtime, drop_id: str) -> dict:
    folder = runtime.folders.work_dir(drop_id)
    if not folder.is_dir():
        log.info("Дроп %s уже не в work/ (доставлен, отклонён или перемещён); пропускаем.",
                 drop_id)
        clear_inflight(runtime.redis, drop_id)
        return {"drop_id": drop_id, "state": "gone"}

    lock = _acquire_drop_lock(runtime.redis, drop_id)
    if lock is None:
        log.info("Дроп %s уже доставляет другая задача; проверим снова через %.0f с.",
                 drop_id, LOCKED_RETRY_SECONDS)
        mark_inflight(runtime.redis, drop_id, LOCKED_RETRY_SECONDS)
        raise task.retry(countdown=LOCKED_RETRY_SECONDS)
    try:
        mark_running(runtime.redis, drop_id)
        return _deliver_locked(task, runtime, drop_id, folder)
    finally:
        _release(lock, drop_id)


def _deliver_locked(task: Task, runtime, drop_id: str, folder) -> dict:
    try:
        drop = load_claimed_drop(folder)
    except InvalidDropError as error:
        claim = _read_claim(folder)
        fail_drop_folder(runtime.folders, drop_id, folder, error,
                         document_id=claim.get("document_id"))
        clear_inflight(runtime.redis, drop_id)
        return {"drop_id": drop_id, "state": DocumentState.FAILED.value}

    document_id = drop.sidecar.document_id
    line_id = drop.sidecar.line_id or runtime.settings.CONNECT_LINE_ID
    if is_paused(runtime.redis, line_id):
        return _wait_while_paused(task, runtime, drop)
    write_status(runtime.folders, document_id, DocumentState.SENDING, drop_id=drop_id)
    log.info("Дроп %s, документ %s: начинаем доставку (попытка %d).", drop_id, document_id,
             task.request.retries + 1)
    try:
        outcome = runtime.deliverer.deliver(drop)
    except SoftTimeLimitExceeded:
        error = TransientDeliveryError(
            f"Доставка не уложилась в {TIMING.task_soft_time_limit_seconds} с; курьер "
            "продолжит с того получателя и файла, на которых остановился.")
        return _retry_or_give_up(task, runtime, drop, error)
    except InvalidDropError as error:
        fail_drop_folder(runtime.folders, drop_id, folder, error, document_id=document_id)
        clear_inflight(runtime.redis, drop_id)
        return {"drop_id": drop_id, "state": DocumentState.FAILED.value}
    except DeliveryError as error:
        return _retry_or_give_up(task, runtime, drop, error)

    finish_drop(runtime.folders, drop, outcome)
    _remember_for_feedback(runtime, drop, outcome, line_id)
    clear_inflight(runtime.redis, drop_id)
    return {"drop_id": drop_id, "state": outcome.state.value}


def _wait_while_paused(task: Task, runtime, drop) -> dict:
    """Keep a drop queued while an admin has paused its line; a pause costs no delivery attempt."""
    write_status(runtime.folders, drop.sidecar.document_id, DocumentState.QUEUED,
                 drop_id=drop.drop_id, message="Отправка приостановлена администратором; "
                 "документ будет отправлен после команды courier resume.")
    mark_inflight(runtime.redis, drop.drop_id, PAUSED_RETRY_SECONDS)
    log.info("Дроп %s, документ %s: отправка на паузе, проверим снова через %d с.",
             drop.drop_id, drop.sidecar.document_id, PAUSED_RETRY_SECONDS)
    raise task.retry(countdown=PAUSED_RETRY_SECONDS, max_retries=None,
                     argsrepr=describe_for_flower(drop.drop_id, drop.sidecar), kwargsrepr="{}")


def _retry_or_give_up(task: Task, runtime, drop, error: DeliveryError) -> dict:
    """Schedule the next try after a transient or auth error, or fail an expired drop."""
    age_seconds = time.time() - datetime.fromisoformat(drop.claimed_at).timestamp()
    if not isinstance(error, AuthenticationError) and is_expired(age_seconds, runtime.policy):
        return _give_up(runtime, drop, error)

    delay = retry_delay(error, task.request.retries, runtime.policy)
    if isinstance(error, AuthenticationError):
        _alert_auth_once(runtime)
        log.info("Дроп %s, документ %s: 1С-Коннект ответил 401, документ остаётся в очереди; "
                 "повтор через %.0f с.", drop.drop_id, drop.sidecar.document_id, delay)
    else:
        log.warning("Дроп %s, документ %s: %s Повтор через %.0f с.", drop.drop_id,
                    drop.sidecar.document_id, error.message, delay)
    # A 401 keeps the drop queued rather than retrying: nothing about it is failing.
    state = DocumentState.QUEUED if isinstance(error, AuthenticationError) else (
        DocumentState.RETRYING)
    records = runtime.deliverer.load_records(drop)
    write_status(runtime.folders, drop.sidecar.document_id, state,
                 drop_id=drop.drop_id, message=error.message,
                 recipients=list(records.values()), next_attempt_in_seconds=round(delay))
    mark_inflight(runtime.redis, drop.drop_id, delay)
    raise task.retry(countdown=delay, argsrepr=describe_for_flower(drop.drop_id, drop.sidecar),
                     kwargsrepr="{}")


def _give_up(runtime, drop, error: DeliveryError) -> dict:
    """Fail the recipients still owed with the last error, once the drop is older than the max age."""
    records = runtime.deliverer.load_records(drop)
    hours = runtime.policy.max_age_seconds / 3600
    for record in records.values():
        if record["state"] == RecipientState.PENDING.value:
            record.update(state=RecipientState.FAILED.value, error={
                "message": f"Не удалось доставить за {hours:g} ч: {error.message}",
                **error.technical()})
    files, version = runtime.deliverer.describe_content(drop)
    line_id = drop.sidecar.line_id or runtime.settings.CONNECT_LINE_ID
    outcome = summarize(list(records.values()), files, version, line_id)
    finish_drop(runtime.folders, drop, outcome)
    _remember_for_feedback(runtime, drop, outcome, line_id)
    clear_inflight(runtime.redis, drop.drop_id)
    return {"drop_id": drop.drop_id, "state": outcome.state.value}


def _remember_for_feedback(runtime, drop, outcome, line_id: str) -> None:
    """Record each delivered recipient, so the client's reply can be matched to the document."""
    for record in outcome.recipients:
        if record["state"] == RecipientState.DELIVERED.value:
            remember_delivery(runtime.redis, line_id=line_id, user_id=record["user_id"],
                              document_id=drop.sidecar.document_id,
                              number=drop.sidecar.number, title=title(drop.sidecar),
                              drop_id=drop.drop_id, delivered_at=record["delivered_at"],
                              feedback_asked=drop.sidecar.wants_feedback,
                              window_days=runtime.settings.FEEDBACK_WINDOW_DAYS)


def _alert_auth_once(runtime) -> None:
    """Log the rejected-credentials ERROR at most once per interval across all workers."""
    if runtime.redis.set("courier:alert:auth", "1", nx=True, ex=AUTH_ALERT_INTERVAL_SECONDS):
        log.error("1С-Коннект отклоняет учётные данные API (401): проверьте CONNECT_LOGIN и "
                  "CONNECT_PASSWORD. Документы остаются в очереди; повтор раз в %d с.",
                  int(runtime.policy.auth_retry_seconds))


def _retry_after_redis_error(task: Task, runtime, drop_id: str, error: redis.RedisError) -> dict:
    """Retry a drop whose task lost Redis for longer than the client's own reconnects.

    If Redis is still down, publishing the retry fails too and Celery rejects the message.
    Beat's recovery scan then queues the drop again once its in-flight marker lapses.
    """
    delay = backoff_seconds(task.request.retries, runtime.policy)
    log.warning("Дроп %s: Redis недоступен (%s); повтор через %.0f с.", drop_id, error, delay)
    raise task.retry(countdown=delay, exc=error)


def _acquire_drop_lock(redis_client: redis.Redis, drop_id: str):
    """Take the drop's lock, or return None while another live task holds it.

    The lock outlives the hard time limit, so a copy of the message that Redis re-delivers
    while this task still runs waits instead of sending twice. Its token names host and
    pid, so a lock left by a pool process that died on this host is broken at once.
    """
    key = drop_lock_key(drop_id)
    token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
    lock = redis_client.lock(key, timeout=TIMING.drop_lock_seconds)
    if lock.acquire(blocking=False, token=token):
        return lock
    if _break_dead_local_lock(redis_client, key, drop_id) and lock.acquire(blocking=False,
                                                                           token=token):
        return lock
    return None


def _break_dead_local_lock(redis_client: redis.Redis, key: str, drop_id: str) -> bool:
    """Delete the lock left by a dead process of this host; return True once the lock is gone."""
    with redis_client.pipeline() as pipe:
        try:
            pipe.watch(key)
            value = pipe.get(key)
            if value is None:
                return True
            host, _, rest = value.decode().partition(":")
            pid = rest.partition(":")[0]
            if host != socket.gethostname() or not pid.isdigit() or _is_running(int(pid)):
                return False
            pipe.multi()
            pipe.delete(key)
            pipe.execute()
        except redis.WatchError:
            return False
    log.warning("Дроп %s: блокировку оставил завершившийся процесс %s на этом хосте; "
                "блокировка снята, доставка продолжается.", drop_id, pid)
    return True


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _release(lock, drop_id: str) -> None:
    try:
        lock.release()
    except redis.RedisError as error:
        # An expired or unreachable lock lapses by itself after its timeout.
        log.warning("Дроп %s: не удалось снять блокировку дропа (%s); она истечёт сама.",
                    drop_id, error)


def _read_claim(folder) -> dict:
    try:
        return read_json(folder / "claim.json")
    except (OSError, ValueError):
        return {}


__all__ = ["deliver_drop", "Retry"]
