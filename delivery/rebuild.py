"""Rebuild the dedup ledger from receipts when Redis has lost it, before any delivery goes on.

A marker key in Redis marks the ledger as complete. Redis that lost its data (or a
new installation) has no marker, so the first worker to notice takes a Redis lock, replays
every receipt under sent/, failed/ and work/ into the ledger, and sets the marker. Other
workers wait for the lock and then find the marker set. Workers check the marker at start
and before every delivery.
"""

import json
import logging
import time

import redis

from delivery.errors import LedgerRebuildingError
from delivery.folders import CourierFolders, utc_now_iso
from delivery.ledger import DeliveryLedger
from delivery.receipts import parse_time, read_receipts
from delivery.status import RecipientState

log = logging.getLogger(__name__)

READY_KEY = "courier:ledger:ready"
REBUILD_LOCK_KEY = "courier:ledger:rebuild-lock"
# A rebuild that takes longer than this loses its lock to the next worker, s.
REBUILD_LOCK_SECONDS = 600


def rebuild_ledger(ledger: DeliveryLedger, folders: CourierFolders,
                   default_line_id: str | None) -> dict:
    """Replay every receipt into the ledger; return counts of receipts and restored records.

    Only recipients in state `delivered` count. A receipt without a line_id (written
    before receipts carried one) uses `default_line_id`, the CONNECT_LINE_ID setting.
    """
    counts = {"receipts": 0, "restored": 0, "skipped_receipts": 0}
    for path, receipt in read_receipts(folders):
        counts["receipts"] += 1
        version = receipt.get("content_sha256")
        line_id = receipt.get("line_id") or default_line_id
        document_id = receipt.get("document_id")
        if not (version and line_id and document_id):
            counts["skipped_receipts"] += 1
            log.warning("В квитанции %s нет document_id, line_id или content_sha256; "
                        "она пропущена при восстановлении журнала доставок.", path)
            continue
        for recipient in receipt.get("recipients") or []:
            counts["restored"] += _restore_recipient(ledger, receipt, recipient, line_id, version)
    return counts


def _restore_recipient(ledger: DeliveryLedger, receipt: dict, recipient: dict, line_id: str,
                       version: str) -> int:
    user_id = recipient.get("user_id")
    sent_ts = parse_time(recipient.get("delivered_at"))
    if recipient.get("state") != RecipientState.DELIVERED.value or not user_id or sent_ts is None:
        return 0
    record = {"drop_id": receipt.get("drop_id"), "sent_at": recipient["delivered_at"],
              "document_id": receipt["document_id"], "sent_ts": sent_ts, "restored": True}
    key = ledger.key(receipt["document_id"], line_id, user_id)
    return int(ledger.restore_sent(key, version, record))


class LedgerGuard:
    """Keeps deliveries from starting until the ledger in Redis is complete."""

    def __init__(self, redis_client: redis.Redis, ledger: DeliveryLedger,
                 folders: CourierFolders, default_line_id: str | None, wait_seconds: float):
        self._redis = redis_client
        self._ledger = ledger
        self._folders = folders
        self._default_line_id = default_line_id
        self._wait_seconds = wait_seconds

    def is_ready(self) -> bool:
        return bool(self._redis.exists(READY_KEY))

    def ensure_ready(self) -> None:
        """Return at once when the marker is set; otherwise rebuild or wait for the rebuild.

        Raises LedgerRebuildingError when another worker's rebuild takes longer than
        `wait_seconds`, so the task retries later instead of holding a worker.
        """
        if self.is_ready():
            return
        lock = self._redis.lock(REBUILD_LOCK_KEY, timeout=REBUILD_LOCK_SECONDS,
                                blocking_timeout=self._wait_seconds)
        if not lock.acquire():
            raise LedgerRebuildingError(
                "Журнал доставок восстанавливается из квитанций после потери данных Redis; "
                "отправка продолжится, когда он будет готов.")
        try:
            if not self.is_ready():
                self._rebuild()
        finally:
            _release(lock)

    def _rebuild(self) -> None:
        log.warning("В Redis нет отметки о готовности журнала доставок (новая установка или "
                    "потеря данных Redis): восстанавливаем журнал из квитанций в %s, отправка "
                    "ждёт окончания.", self._folders.root)
        started = time.monotonic()
        counts = rebuild_ledger(self._ledger, self._folders, self._default_line_id)
        marker = {**counts, "rebuilt_at": utc_now_iso()}
        self._redis.set(READY_KEY, json.dumps(marker))
        log.warning("Журнал доставок восстановлен за %.1f с: квитанций %d, записей о доставке %d, "
                    "пропущено квитанций %d. Отправка возобновляется.",
                    time.monotonic() - started, counts["receipts"], counts["restored"],
                    counts["skipped_receipts"])


def _release(lock) -> None:
    try:
        lock.release()
    except redis.exceptions.LockError:
        log.warning("Блокировка восстановления журнала доставок истекла раньше, чем "
                    "закончилось восстановление.")
