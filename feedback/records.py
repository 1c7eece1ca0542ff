"""Feedback records for 1C: feedback/<document_id>/<message_id>.json and the status file.

Both are written atomically (temporary name, then rename), so 1C never reads half a file.
"""

import logging
from datetime import datetime, timezone
from pathlib import Path

from delivery.folders import CourierFolders, atomic_write_json, read_json, utc_now_iso
from delivery.status import read_status
from feedback.correlation import DeliveredDocument
from feedback.events import ClientMessage
from feedback.rating import Reply

log = logging.getLogger(__name__)

RECORD_SUFFIX = ".json"

# Fields of a record that the status file repeats under "feedback".
STATUS_FIELDS = ("message_id", "rating", "verdict", "comment", "author", "time", "files")


def feedback_dir(folders: CourierFolders, document_id: str) -> Path:
    return folders.feedback / document_id


def record_path(folders: CourierFolders, document_id: str, message_id: str) -> Path:
    return feedback_dir(folders, document_id) / f"{message_id}{RECORD_SUFFIX}"


def attachments_dir(folders: CourierFolders, document_id: str, message_id: str) -> Path:
    """Folder beside the record for the files the client sent with the message."""
    return feedback_dir(folders, document_id) / message_id


def build_record(message: ClientMessage, reply: Reply, document: DeliveredDocument,
                 files: list[dict]) -> dict:
    """Assemble the record 1C reads; `files` describes the client's attachments."""
    return {
        "document_id": document.document_id,
        "message_id": message.message_id,
        "number": document.number,
        "title": document.title,
        "drop_id": document.drop_id,
        "delivered_at": document.delivered_at,
        "rating": reply.rating,
        "verdict": reply.verdict.value if reply.verdict else None,
        "comment": reply.comment,
        "author": {"user_id": message.user_id},
        "line_id": message.line_id,
        "treatment_id": message.treatment_id,
        "time": message.time.isoformat(),
        "received_at": utc_now_iso(),
        "text": message.text,
        "files": files,
    }


def write_record(folders: CourierFolders, record: dict) -> Path:
    """Write the record to feedback/<document_id>/<message_id>.json and return the path."""
    path = record_path(folders, record["document_id"], record["message_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, record)
    return path


def read_records(folders: CourierFolders, document_id: str) -> list[dict]:
    """Return every feedback record of a document, oldest first by message time."""
    folder = feedback_dir(folders, document_id)
    if not folder.is_dir():
        return []

    records = []
    for path in folder.glob(f"*{RECORD_SUFFIX}"):
        if path.name.startswith("."):
            continue
        try:
            records.append(read_json(path))
        except (OSError, ValueError) as error:
            log.warning("Файл отзыва %s не читается и пропущен: %s", path, error)
    return sorted(records, key=_timestamp)


def update_status_feedback(folders: CourierFolders, record: dict) -> bool:
    """Put the record's summary under "feedback" in the document's status file.

    The state and every other key stay as they are. An older reply that arrives late
    does not replace a newer one. Returns False when the status file does not exist or
    already shows a newer reply.

    NOTE: this read-modify-write takes no lock. A delivery task that rewrites the same
    status file at the same moment keeps the "feedback" it read before, so one of the
    two updates can be lost.
    """
    document_id = record["document_id"]
    status = read_status(folders, document_id)
    if status is None:
        log.warning("Документ %s: файла статуса нет, отзыв %s записан только в feedback/.",
                    document_id, record["message_id"])
        return False

    current = status.get("feedback") or {}
    if current.get("message_id") != record["message_id"] and _is_newer(current, record):
        return False

    summary = {name: record.get(name) for name in STATUS_FIELDS}
    summary["file"] = str(record_path(folders, document_id, record["message_id"])
                          .relative_to(folders.root))
    status["feedback"] = summary
    atomic_write_json(folders.status_file(document_id), status)
    return True


def _is_newer(current: dict, record: dict) -> bool:
    """Tell whether the summary already in the status file is newer than `record`."""
    return _timestamp(current) > _timestamp(record)


def _timestamp(record: dict) -> float:
    """Return the record's message time in seconds since the epoch, 0 when unreadable."""
    value = record.get("time")
    try:
        moment = datetime.fromisoformat(value) if value else None
    except ValueError:
        moment = None
    if moment is None:
        return 0.0
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
