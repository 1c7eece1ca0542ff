"""Move a finished drop from failed/ or sent/ back to work/ and queue it again.

The rename into work/ is the commit point: of two admins reopening the same drop, only
one rename succeeds. Before it, the drop is marked in flight, so beat's orphan scan
does not queue it while the receipt, error and claim files are still being updated.
Nothing is deleted: the last run's error.json and receipt.json are kept under
`*.previous*.json` names.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from delivery.drop import CLAIM_FILE
from delivery.folders import (
    atomic_write_bytes,
    atomic_write_json,
    move_dir,
    process_label,
    read_json,
    utc_now_iso,
)
from delivery.results import ERROR_FILE, RECEIPT_FILE
from delivery.status import DocumentState, write_status
from tasks.cli.catalog import WORK, DropRecord, read_drop
from tasks.cli.context import CourierContext
from tasks.queueing import clear_inflight, mark_inflight, queue_drop


class ReopenError(Exception):
    """A drop cannot be moved back to work/. The message is a Russian sentence."""


@dataclass
class ReopenedDrop:
    """A drop back in work/ and queued, with the recipient records written to its status."""

    drop: DropRecord
    recipients: list[dict]
    archived: list[str]


def archive_name(folder: Path, name: str) -> Path:
    """Pick a free name for an old result file: error.previous.json, error.previous.2.json, …"""
    stem = name.removesuffix(".json")
    candidate = folder / f"{stem}.previous.json"
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem}.previous.{number}.json"
        number += 1
    return candidate


def archive_result_files(folder: Path, *, keep_receipt: bool) -> list[str]:
    """Keep the last run's error.json and receipt.json under `*.previous*.json` names.

    error.json always moves aside, so a drop that succeeds this time does not carry a
    stale error into sent/. With `keep_receipt` the receipt is copied instead of moved:
    the ledger rebuild (delivery.rebuild) reads only receipt.json, and until the worker
    rewrites it, it is the record of the recipients a retry must skip. A forced resend
    moves it, so a rebuild cannot bring back the delivery the admin asked to forget.
    Returns the names written.
    """
    archived = []
    error = folder / ERROR_FILE
    if error.exists():
        target = archive_name(folder, ERROR_FILE)
        error.rename(target)
        archived.append(target.name)

    receipt = folder / RECEIPT_FILE
    if receipt.exists():
        target = archive_name(folder, RECEIPT_FILE)
        if keep_receipt:
            atomic_write_bytes(target, receipt.read_bytes())
        else:
            receipt.rename(target)
        archived.append(target.name)
    return archived


def restart_claim(folder: Path, command: str) -> None:
    """Restart the drop's max-age clock: claimed_at becomes now, the first claim time is kept."""
    path = folder / CLAIM_FILE
    claim = read_json(path)
    now = utc_now_iso()
    claim.setdefault("first_claimed_at", claim.get("claimed_at") or now)
    claim["claimed_at"] = now
    claim.setdefault("requeues", []).append(
        {"command": command, "at": now, "by": process_label()})
    atomic_write_json(path, claim)


def _check_reopenable(courier: CourierContext, drop: DropRecord) -> None:
    if not drop.claim.get("sidecar") or "files" not in drop.claim:
        raise ReopenError(
            f"в папке {drop.relative_folder(courier.folders)} нет читаемого claim.json, "
            "поэтому курьер не сможет доставить дроп; положите документ в inbox заново.")
    if courier.folders.work_dir(drop.drop_id).exists():
        raise ReopenError(f"папка work/{drop.drop_id}/ уже существует.")


def _move_to_work(courier: CourierContext, drop: DropRecord) -> Path:
    mark_inflight(courier.redis, drop.drop_id)
    try:
        return move_dir(drop.folder, courier.folders.work_dir(drop.drop_id))
    except FileExistsError:
        clear_inflight(courier.redis, drop.drop_id)
        raise ReopenError(f"папка work/{drop.drop_id}/ уже существует.") from None
    except FileNotFoundError:
        clear_inflight(courier.redis, drop.drop_id)
        raise ReopenError(
            f"папки {drop.relative_folder(courier.folders)} уже нет: дроп переместил "
            "другой процесс.") from None


def reopen_drop(courier: CourierContext, drop: DropRecord, command: str, message: str,
                prepare: Callable[[DropRecord], list[dict]], *,
                keep_receipt: bool) -> ReopenedDrop:
    """Move `drop` to work/, run `prepare` on it, write status `queued` and queue the task.

    `prepare` resets the drop's Redis state and returns the recipient records for the
    status file. `keep_receipt` is passed to archive_result_files. Raises ReopenError
    when the drop cannot be moved.
    """
    _check_reopenable(courier, drop)
    folder = _move_to_work(courier, drop)
    reopened = read_drop(folder, WORK)

    recipients = prepare(reopened)
    archived = archive_result_files(folder, keep_receipt=keep_receipt)
    restart_claim(folder, command)

    if reopened.document_id:
        write_status(courier.folders, reopened.document_id, DocumentState.QUEUED,
                     drop_id=drop.drop_id, message=message, recipients=recipients,
                     location=f"{WORK}/{drop.drop_id}")
    queue_drop(courier.app, courier.redis, drop.drop_id, reopened.sidecar)
    return ReopenedDrop(drop=reopened, recipients=recipients, archived=archived)
