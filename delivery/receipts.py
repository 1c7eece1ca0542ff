"""receipt.json: the courier's own record of what was sent, since the API returns no message id.

A drop being delivered keeps an interim receipt in work/<drop_id>/ that is rewritten after
each recipient is served; the final one moves with the drop to sent/ or failed/. The
dedup ledger is rebuilt from these files when Redis loses it.
"""

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from delivery.comments import title
from delivery.drop import ClaimedDrop
from delivery.folders import CourierFolders, atomic_write_json, read_json, utc_now_iso

log = logging.getLogger(__name__)

RECEIPT_FILE = "receipt.json"
# State of an interim receipt in work/: the drop is still being delivered.
IN_PROGRESS_STATE = "sending"


def document_fields(drop: ClaimedDrop) -> dict:
    """Return the fields that name the document in receipts, error files and statuses."""
    sidecar = drop.sidecar
    return {
        "document_id": sidecar.document_id,
        "kind": sidecar.kind.value,
        "number": sidecar.number,
        "date": sidecar.date,
        "title": title(sidecar),
    }


def build_receipt(drop: ClaimedDrop, *, state: str, line_id: str | None, version: str,
                  files: list[dict], recipients: list[dict],
                  finished_at: str | None = None) -> dict:
    """Assemble a receipt: the document, its line, content hashes and every recipient's record."""
    receipt = {
        "drop_id": drop.drop_id,
        **document_fields(drop),
        "line_id": line_id,
        "state": state,
        "content_sha256": version,
        "files": files,
        "recipients": recipients,
        "claimed_at": drop.claimed_at,
    }
    if finished_at is not None:
        receipt["finished_at"] = finished_at
    return receipt


def write_interim_receipt(drop: ClaimedDrop, *, line_id: str, version: str, files: list[dict],
                          recipients: list[dict]) -> None:
    """Rewrite work/<drop_id>/receipt.json after a recipient was served."""
    receipt = build_receipt(drop, state=IN_PROGRESS_STATE, line_id=line_id, version=version,
                            files=files, recipients=recipients)
    receipt["updated_at"] = utc_now_iso()
    atomic_write_json(drop.folder / RECEIPT_FILE, receipt)


def read_interim_recipients(drop: ClaimedDrop) -> list[dict] | None:
    """Return the recipient records of the drop's interim receipt, or None if it has none."""
    path = drop.folder / RECEIPT_FILE
    try:
        receipt = read_json(path)
    except (FileNotFoundError, ValueError):
        return None
    recipients = receipt.get("recipients")
    # A final receipt (a drop moved back from sent/ or failed/ by an admin) never counts:
    # the admin's retry or resend decides afresh who is owed.
    if receipt.get("state") != IN_PROGRESS_STATE or receipt.get("drop_id") != drop.drop_id:
        return None
    if not isinstance(recipients, list):
        return None
    if len(recipients) != len(drop.sidecar.recipients):
        return None
    return recipients


def receipt_paths(folders: CourierFolders) -> list[Path]:
    """List every receipt under sent/, failed/ and work/, oldest drop first.

    Drop ids start with the claim time, so sorting by the drop folder's name sorts by age.
    """
    patterns = ((folders.sent, "*/*/" + RECEIPT_FILE), (folders.failed, "*/" + RECEIPT_FILE),
                (folders.work, "*/" + RECEIPT_FILE))
    paths = [path for root, pattern in patterns if root.is_dir() for path in root.glob(pattern)]
    return sorted(paths, key=lambda path: path.parent.name)


def read_receipts(folders: CourierFolders) -> Iterator[tuple[Path, dict]]:
    """Yield (path, receipt) for every readable receipt, oldest drop first."""
    for path in receipt_paths(folders):
        try:
            yield path, read_json(path)
        except (OSError, ValueError) as error:
            log.warning("Квитанция %s не читается (%s); она пропущена при восстановлении "
                        "журнала доставок.", path, error)


def parse_time(value: str | None) -> float | None:
    """Turn an RFC 3339 time from a receipt into a Unix time, or None if it is not one."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None
