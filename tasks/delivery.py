"""The delivery task: one drop id in, the drop delivered, failed or scheduled for retry."""

import logging
import time
from datetime import datetime

from celery import Task
from celery.exceptions import Retry

from delivery.drop import load_claimed_drop
from delivery.errors import AuthenticationError, DeliveryError, InvalidDropError
from delivery.folders import read_json
from delivery.pause import is_paused
from delivery.results import fail_drop_folder, finish_drop
from delivery.retry import TASK_TIME_LIMIT_SECONDS, is_expired, retry_delay
from delivery.service import summarize
from delivery.status import DocumentState, RecipientState, write_status
from tasks.application import app
from tasks.queueing import DELIVER_TASK, clear_inflight, describe_for_flower, mark_inflight
from tasks.runtime import get_runtime

log = logging.getLogger(__name__)

# How often the "credentials rejected" ERROR is logged at most, s.
AUTH_ALERT_INTERVAL_SECONDS = 300
# When another worker holds the drop's lock, look again after this many seconds.
LOCKED_RETRY_SECONDS = 60
# While deliveries are paused, a drop looks again after this many seconds.
PAUSED_RETRY_SECONDS = 30


@app.task(bind=True, name=DELIVER_TASK,
          max_retries=None, acks_late=True)
def deliver_drop(self: Task, drop_id: str) -> dict:
    """Deliver the drop in work/<drop_id>/ to every recipient still owed."""
    runtime = get_runtime()
    folder = runtime.folders.work_dir(drop_id)
    if not folder.is_dir():
        log.info("Дроп %s уже не в work/ (доставлен, отклонён или перемещён); пропускаем.",
                 drop_id)
        clear_inflight(runtime.redis, drop_id)
        return {"drop_id": drop_id, "state": "gone"}

    lock_key = f"courier:lock:drop:{drop_id}"
    if not runtime.redis.set(lock_key, self.request.id or "1", nx=True,
                             ex=TASK_TIME_LIMIT_SECONDS + 60):
        mark_inflight(runtime.redis, drop_id, LOCKED_RETRY_SECONDS)
        raise self.retry(countdown=LOCKED_RETRY_SECONDS)
    try:
        return _deliver_locked(self, runtime, drop_id, folder)
    finally:
        runtime.redis.delete(lock_key)


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
    except InvalidDropError as error:
        fail_drop_folder(runtime.folders, drop_id, folder, error, document_id=document_id)
        clear_inflight(runtime.redis, drop_id)
        return {"drop_id": drop_id, "state": DocumentState.FAILED.value}
    except DeliveryError as error:
        return _retry_or_give_up(task, runtime, drop, error)

    finish_drop(runtime.folders, drop, outcome)
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
    else:
        log.warning("Дроп %s, документ %s: %s Повтор через %.0f с.", drop.drop_id,
                    drop.sidecar.document_id, error.message, delay)
    records = runtime.deliverer.load_records(drop)
    write_status(runtime.folders, drop.sidecar.document_id, DocumentState.RETRYING,
                 drop_id=drop.drop_id, message=error.message,
                 recipients=list(records.values()), next_attempt_in_seconds=round(delay))
    mark_inflight(runtime.redis, drop.drop_id, delay)
    raise task.retry(countdown=delay, argsrepr=describe_for_flower(drop.drop_id, drop.sidecar),
                     kwargsrepr="{}")


def _give_up(runtime, drop, error: DeliveryError) -> dict:
    records = runtime.deliverer.load_records(drop)
    hours = runtime.policy.max_age_seconds / 3600
    for record in records.values():
        if record["state"] == RecipientState.PENDING.value:
            record.update(state=RecipientState.FAILED.value, error={
                "message": f"Не удалось доставить за {hours:.0f} ч: {error.message}",
                **error.technical()})
    outcome = summarize(list(records.values()), [], "")
    finish_drop(runtime.folders, drop, outcome)
    clear_inflight(runtime.redis, drop.drop_id)
    return {"drop_id": drop.drop_id, "state": outcome.state.value}


def _alert_auth_once(runtime) -> None:
    """Log the rejected-credentials ERROR at most once per interval across all workers."""
    if runtime.redis.set("courier:alert:auth", "1", nx=True, ex=AUTH_ALERT_INTERVAL_SECONDS):
        log.error("1С-Коннект отклоняет учётные данные API (401): проверьте CONNECT_LOGIN и "
                  "CONNECT_PASSWORD. Документы остаются в очереди; повтор раз в %d с.",
                  int(runtime.policy.auth_retry_seconds))


def _read_claim(folder) -> dict:
    try:
        return read_json(folder / "claim.json")
    except (OSError, ValueError):
        return {}


__all__ = ["deliver_drop", "Retry"]
