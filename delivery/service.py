"""Deliver one claimed drop to every recipient, one upload per file per recipient.

Progress is kept in Redis (per-recipient state and per-file progress), in the dedup
ledger and in an interim receipt in the drop's work folder, so a retry after a transient
error sends only what is still owed.
"""

import json
import logging
from dataclasses import dataclass, field

import redis

from config import SendMode, Settings
from delivery.client import ConnectClient, FileSend
from delivery.comments import compose_comment, title
from delivery.directory import RecipientDirectory
from delivery.drop import ClaimedDrop, file_sha256
from delivery.errors import (
    DeliveryError,
    InvalidDropError,
    PermanentDeliveryError,
    RecipientBusyError,
)
from delivery.folders import utc_now_iso
from delivery.ledger import DeliveryLedger, content_hash
from delivery.receipts import read_interim_recipients, write_interim_receipt
from delivery.rebuild import LedgerGuard
from delivery.sidecar import Recipient
from delivery.status import STATE_MESSAGES, DocumentState, RecipientState
from delivery.timing import TIMING

log = logging.getLogger(__name__)

# A lease outlives one task's hard time limit, so only a dead worker's lease expires.
LEASE_SECONDS = TIMING.lease_seconds
# How long per-drop progress stays in Redis after the last change, s.
PROGRESS_TTL_SECONDS = 8 * 86400
FINISHED = (RecipientState.DELIVERED, RecipientState.DUPLICATE, RecipientState.FAILED)

__all__ = ["DeliveryOutcome", "DropDeliverer", "RecipientBusyError", "summarize"]


@dataclass
class DeliveryOutcome:
    """The result of delivering a drop: the document state and each recipient's record."""

    state: DocumentState
    recipients: list[dict]
    files: list[dict]
    version: str
    message: str | None = None
    errors: list[dict] = field(default_factory=list)
    line_id: str | None = None
    duplicate_of: dict | None = None


class DropDeliverer:
    """Runs the uploads of one drop against 1C-Connect."""

    def __init__(self, settings: Settings, client: ConnectClient, directory: RecipientDirectory,
                 ledger: DeliveryLedger, redis_client: redis.Redis,
                 guard: LedgerGuard | None = None):
        self.settings = settings
        self.client = client
        self.directory = directory
        self.ledger = ledger
        self.redis = redis_client
        self.guard = guard

    def deliver(self, drop: ClaimedDrop) -> DeliveryOutcome:
        """Deliver to every recipient still owed; raise TransientDeliveryError to retry."""
        if self.guard is not None:
            self.guard.ensure_ready()
        line_id, author_id = self.line_and_author(drop)
        drop.check_files(self.settings.max_file_bytes)
        files, version = self.describe_content(drop)
        records = self.load_records(drop)

        for index, recipient in enumerate(drop.sidecar.recipients):
            record = records[index]
            if RecipientState(record["state"]) in FINISHED:
                continue
            record["attempts"] += 1
            try:
                self._deliver_to(drop, recipient, record, line_id, author_id, version)
            except PermanentDeliveryError as error:
                self._mark_failed(drop, record, error)
            except DeliveryError as error:
                record["error"] = {"message": error.message, **error.technical()}
                self._save_record(drop.drop_id, index, record)
                raise
            self._save_record(drop.drop_id, index, record)
            if record["state"] == RecipientState.DELIVERED.value:
                write_interim_receipt(drop, line_id=line_id, version=version, files=files,
                                      recipients=list(records.values()))

        return summarize(list(records.values()), files, version, line_id)

    def describe_content(self, drop: ClaimedDrop) -> tuple[list[dict], str]:
        """Return each file's name, size and SHA-256, and the content hash of the whole drop."""
        files = [{"name": path.name, "size": path.stat().st_size, "sha256": file_sha256(path)}
                 for path in drop.file_paths]
        version = content_hash([item["sha256"] for item in files], drop.sidecar.comment)
        return files, version

    def line_and_author(self, drop: ClaimedDrop) -> tuple[str, str | None]:
        """Return the drop's line and sending specialist, falling back to the settings."""
        line_id = drop.sidecar.line_id or self.settings.CONNECT_LINE_ID
        author_id = drop.sidecar.author_id or self.settings.CONNECT_AUTHOR_ID
        if not line_id:
            raise InvalidDropError(
                f"В файле {drop.sidecar_name} не указан line_id, и не задана настройка "
                "CONNECT_LINE_ID: укажите линию поддержки в JSON или в настройках курьера.",
                file=drop.sidecar_name, field="line_id")
        if self.settings.CONNECT_SEND_MODE is SendMode.SPECIALIST and not author_id:
            raise InvalidDropError(
                f"Для CONNECT_SEND_MODE=specialist нужен специалист, но в файле "
                f"{drop.sidecar_name} нет author_id и не задана настройка CONNECT_AUTHOR_ID: "
                "укажите одно из них.", file=drop.sidecar_name, field="author_id")
        return line_id, author_id

    def _deliver_to(self, drop: ClaimedDrop, recipient: Recipient, record: dict,
                    line_id: str, author_id: str | None, version: str) -> None:
        user_id = self.directory.resolve(recipient)
        record["user_id"] = user_id
        key = self.ledger.key(drop.sidecar.document_id, line_id, user_id)
        entry = self.ledger.lookup(key, version)
        if entry.sent is not None:
            self._mark_duplicate(drop, record, entry.sent)
            return
        if not self.ledger.acquire_lease(key, version, drop.drop_id, LEASE_SECONDS):
            raise RecipientBusyError(
                f"Документ для получателя {user_id} сейчас отправляет другой дроп; "
                "курьер повторит попытку позже.")

        comment = compose_comment(drop.sidecar, recipient, new_version=entry.other_versions_sent)
        try:
            self._upload(drop, user_id, line_id, author_id, comment)
        except DeliveryError:
            self.ledger.release_lease(key, version)
            raise
        delivered_at = utc_now_iso()
        self.ledger.mark_sent(key, version, {
            "drop_id": drop.drop_id, "sent_at": delivered_at, "document_id":
            drop.sidecar.document_id})
        record.update(state=RecipientState.DELIVERED.value, delivered_at=delivered_at,
                      error=None, new_version=entry.other_versions_sent)
        log.info("Дроп %s, документ %s (%s): доставлен получателю %s.", drop.drop_id,
                 drop.sidecar.document_id, title(drop.sidecar), user_id)

    def _mark_duplicate(self, drop: ClaimedDrop, record: dict, first: dict) -> None:
        pointer = {name: first.get(name) for name in ("drop_id", "sent_at", "document_id")}
        record.update(state=RecipientState.DUPLICATE.value, duplicate_of=pointer, error=None)
        log.info("Дроп %s, документ %s: получателю %s эта версия уже доставлена "
                 "дропом %s, повторно не отправляем.", drop.drop_id,
                 drop.sidecar.document_id, record["user_id"], pointer["drop_id"])

    def _upload(self, drop: ClaimedDrop, user_id: str, line_id: str, author_id: str | None,
                comment: str) -> None:
        specialist = self.settings.CONNECT_SEND_MODE is SendMode.SPECIALIST
        if not drop.file_names:
            self.client.send_message(line_id, user_id, comment, author_id=author_id,
                                     specialist_mode=specialist)
            return
        progress_key = f"courier:progress:{drop.drop_id}:{user_id}"
        for position, path in enumerate(drop.file_paths):
            if self.redis.sismember(progress_key, path.name):
                continue
            self.client.send_file(FileSend(
                line_id=line_id, user_id=user_id, path=path, file_name=path.name,
                comment=comment if position == 0 else None, author_id=author_id,
                specialist_mode=specialist))
            self.redis.sadd(progress_key, path.name)
            self.redis.expire(progress_key, PROGRESS_TTL_SECONDS)

    def _mark_failed(self, drop: ClaimedDrop, record: dict, error: DeliveryError) -> None:
        record.update(state=RecipientState.FAILED.value,
                      error={"message": error.message, **error.technical()})
        log.warning("Дроп %s, документ %s: получатель %s не получит документ: %s",
                    drop.drop_id, drop.sidecar.document_id, record["address"], error.message)

    def load_records(self, drop: ClaimedDrop) -> dict[int, dict]:
        """Return each recipient's record from Redis, the interim receipt, or a fresh one.

        The interim receipt replaces the Redis records when Redis lost them, so recipients
        already served are not sent the document again.
        """
        stored = self.redis.hgetall(f"courier:drop:{drop.drop_id}")
        interim = None if stored else read_interim_recipients(drop)
        records = {}
        for index, recipient in enumerate(drop.sidecar.recipients):
            raw = stored.get(str(index).encode())
            if raw:
                records[index] = json.loads(raw)
            elif interim is not None:
                records[index] = interim[index]
            else:
                records[index] = {
                    "address": recipient.address, "user_id": recipient.user_id,
                    "state": RecipientState.PENDING.value, "delivered_at": None,
                    "attempts": 0, "error": None}
        return records

    def _save_record(self, drop_id: str, index: int, record: dict) -> None:
        key = f"courier:drop:{drop_id}"
        self.redis.hset(key, str(index), json.dumps(record, ensure_ascii=False))
        self.redis.expire(key, PROGRESS_TTL_SECONDS)

    def forget_progress(self, drop_id: str) -> None:
        """Drop the records of failed recipients, so an admin's retry starts over for them.

        Recipients already delivered keep their records and are not sent the document
        again; even without them the ledger would mark them as duplicates.
        """
        key = f"courier:drop:{drop_id}"
        for index, raw in self.redis.hgetall(key).items():
            if json.loads(raw).get("state") == RecipientState.FAILED.value:
                self.redis.hdel(key, index)


def summarize(records: list[dict], files: list[dict], version: str,
              line_id: str | None = None) -> DeliveryOutcome:
    """Fold recipient records into the document's state and a sentence for 1C."""
    states = [RecipientState(record["state"]) for record in records]
    failed = [record for record in records if record["state"] == RecipientState.FAILED.value]
    reached = len(records) - len(failed)
    if not failed:
        if all(state is RecipientState.DUPLICATE for state in states):
            return _duplicate_outcome(records, files, version, line_id)
        return DeliveryOutcome(DocumentState.DELIVERED, records, files, version, line_id=line_id)

    reasons = "; ".join(f"{record['address']}: {record['error']['message']}" for record in failed)
    errors = [record["error"] for record in failed]
    if reached == 0:
        message = f"Документ не доставлен ни одному получателю. {reasons}"
        return DeliveryOutcome(DocumentState.FAILED, records, files, version, message, errors,
                               line_id)
    message = f"Документ доставлен {reached} из {len(records)} получателей. Не доставлен: {reasons}"
    return DeliveryOutcome(DocumentState.PARTIALLY_DELIVERED, records, files, version, message,
                           errors, line_id)


def _duplicate_outcome(records: list[dict], files: list[dict], version: str,
                       line_id: str | None) -> DeliveryOutcome:
    """Build the outcome of a drop whose every recipient already has this version."""
    first = min((record["duplicate_of"] for record in records if record.get("duplicate_of")),
                key=lambda pointer: pointer.get("sent_at") or "", default=None)
    message = STATE_MESSAGES[DocumentState.DUPLICATE]
    if first is not None:
        message = (f"Этот документ с тем же содержимым уже был доставлен {first.get('sent_at')} "
                   f"(дроп {first.get('drop_id')}); повторно не отправлялся.")
    return DeliveryOutcome(DocumentState.DUPLICATE, records, files, version, message,
                           line_id=line_id, duplicate_of=first)
