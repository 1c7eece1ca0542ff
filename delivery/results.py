"""Results for 1C: move a finished drop to sent/ or failed/ with receipt.json or error.json."""

import logging
from datetime import datetime, timezone
from pathlib import Path

from config.sentry import report_final_failure
from delivery.drop import ClaimedDrop
from delivery.errors import DeliveryError
from delivery.folders import CourierFolders, atomic_write_json, move_dir, utc_now_iso
from delivery.receipts import RECEIPT_FILE, build_receipt, document_fields
from delivery.service import DeliveryOutcome
from delivery.status import DocumentState, write_status

log = logging.getLogger(__name__)

ERROR_FILE = "error.json"

__all__ = ["ERROR_FILE", "RECEIPT_FILE", "fail_drop_folder", "finish_drop"]


def finish_drop(folders: CourierFolders, drop: ClaimedDrop, outcome: DeliveryOutcome) -> Path:
    """Write the receipt, move the drop to sent/ (or failed/ if anyone is still owed)."""
    finished_at = utc_now_iso()
    receipt = build_receipt(drop, state=outcome.state.value, line_id=outcome.line_id,
                            version=outcome.version, files=outcome.files,
                            recipients=outcome.recipients, finished_at=finished_at)
    if outcome.duplicate_of is not None:
        receipt["duplicate_of"] = outcome.duplicate_of
    atomic_write_json(drop.folder / RECEIPT_FILE, receipt)

    if outcome.state in (DocumentState.DELIVERED, DocumentState.DUPLICATE):
        day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        target = move_dir(drop.folder, folders.sent_dir(drop.drop_id, day))
    else:
        atomic_write_json(drop.folder / ERROR_FILE, {
            "drop_id": drop.drop_id, **document_fields(drop),
            "state": outcome.state.value, "message": outcome.message,
            "errors": outcome.errors, "failed_at": finished_at,
        })
        target = move_dir(drop.folder, folders.failed_dir(drop.drop_id))
        error_class = (outcome.errors[0] or {}).get("error_class") if outcome.errors else None
        report_final_failure(drop.drop_id, drop.sidecar.document_id, outcome.message or "",
                             error_class or outcome.state.value)

    extra = {"duplicate_of": outcome.duplicate_of} if outcome.duplicate_of else {}
    write_status(folders, drop.sidecar.document_id, outcome.state, drop_id=drop.drop_id,
                 message=outcome.message, recipients=outcome.recipients,
                 location=str(target.relative_to(folders.root)), **extra)
    log.info("Дроп %s, документ %s: итог %s, папка %s.", drop.drop_id,
             drop.sidecar.document_id, outcome.state.value, target.relative_to(folders.root))
    return target


def fail_drop_folder(folders: CourierFolders, drop_id: str, folder: Path, error: DeliveryError,
                     *, document_id: str | None = None, extra: dict | None = None) -> Path:
    """Move a drop that cannot be delivered at all to failed/ with error.json and a status."""
    failed_at = utc_now_iso()
    details = {
        "drop_id": drop_id,
        "document_id": document_id,
        "state": DocumentState.FAILED.value,
        "message": error.message,
        **error.technical(),
        **(extra or {}),
        "failed_at": failed_at,
    }
    atomic_write_json(folder / ERROR_FILE, details)
    target = move_dir(folder, folders.failed_dir(drop_id))
    if document_id:
        write_status(folders, document_id, DocumentState.FAILED, drop_id=drop_id,
                     message=error.message, location=str(target.relative_to(folders.root)),
                     error=error.technical())
    log.warning("Дроп %s (документ %s) перемещён в failed/: %s", drop_id,
                document_id or "неизвестен", error.message)
    report_final_failure(drop_id, document_id, error.message, type(error).__name__)
    return target
