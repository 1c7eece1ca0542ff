"""Find drops under COURIER_ROOT and read what an admin needs to know about each one.

A drop folder contains claim.json (written at claim), the sidecar named there, and, once
finished, receipt.json and/or error.json. Any of them may be missing or broken in a
failed drop, so every reader here falls back to the others instead of raising.
"""

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from delivery.comments import title
from delivery.drop import CLAIM_FILE
from delivery.errors import InvalidDropError
from delivery.folders import CourierFolders, read_json
from delivery.results import ERROR_FILE, RECEIPT_FILE
from delivery.sidecar import Sidecar, read_sidecar
from delivery.status import read_status

WORK, SENT, FAILED = "work", "sent", "failed"


@dataclass
class DropRecord:
    """One drop folder in work/, sent/<day>/ or failed/ with its parsed files."""

    drop_id: str
    folder: Path
    area: str
    claim: dict
    sidecar: Sidecar | None
    error: dict | None
    receipt: dict | None

    @property
    def document_id(self) -> str | None:
        if self.sidecar is not None:
            return self.sidecar.document_id
        return self.claim.get("document_id") or (self.error or {}).get("document_id")

    @property
    def title(self) -> str | None:
        return title(self.sidecar) if self.sidecar is not None else None

    @property
    def number(self) -> str | None:
        if self.sidecar is not None:
            return self.sidecar.number
        return (self.error or {}).get("number")

    @property
    def kind(self) -> str | None:
        if self.sidecar is not None:
            return self.sidecar.kind.value
        return (self.error or {}).get("kind")

    @property
    def client_name(self) -> str | None:
        client = self.sidecar.client if self.sidecar is not None else None
        return client.name if client is not None else None

    @property
    def client_inn(self) -> str | None:
        client = self.sidecar.client if self.sidecar is not None else None
        return client.inn.strip() if client is not None and client.inn else None

    @property
    def failed_at(self) -> datetime | None:
        """When the drop failed: error.json's failed_at, else the folder's mtime."""
        text = (self.error or {}).get("failed_at")
        try:
            if text:
                return datetime.fromisoformat(text)
        except ValueError:
            pass
        try:
            return datetime.fromtimestamp(self.folder.stat().st_mtime, timezone.utc)
        except OSError:
            return None

    @property
    def message(self) -> str | None:
        return (self.error or {}).get("message")

    def relative_folder(self, folders: CourierFolders) -> str:
        return f"{self.folder.relative_to(folders.root).as_posix()}/"


def _read_optional_json(path: Path) -> dict | None:
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read_sidecar_or_none(folder: Path, claim: dict, error: dict | None) -> Sidecar | None:
    name = claim.get("sidecar") or (error or {}).get("sidecar")
    if not name:
        return None
    try:
        return read_sidecar(folder / name)
    except (OSError, InvalidDropError):
        return None


def read_drop(folder: Path, area: str) -> DropRecord:
    """Read one drop folder, with None for each missing or unreadable file."""
    claim = _read_optional_json(folder / CLAIM_FILE) or {}
    error = _read_optional_json(folder / ERROR_FILE)
    return DropRecord(
        drop_id=folder.name,
        folder=folder,
        area=area,
        claim=claim,
        sidecar=_read_sidecar_or_none(folder, claim, error),
        error=error,
        receipt=_read_optional_json(folder / RECEIPT_FILE),
    )


def _drop_folders(parent: Path) -> list[Path]:
    """List drop folders directly under `parent`, oldest first (drop ids are time-ordered)."""
    if not parent.is_dir():
        return []
    return sorted((entry for entry in parent.iterdir()
                   if entry.is_dir() and not entry.name.startswith(".")),
                  key=lambda entry: entry.name)


def failed_drops(folders: CourierFolders) -> list[DropRecord]:
    """Return every drop in failed/, oldest first."""
    return [read_drop(folder, FAILED) for folder in _drop_folders(folders.failed)]


def work_drops(folders: CourierFolders) -> list[DropRecord]:
    """Return every drop in work/, oldest first."""
    return [read_drop(folder, WORK) for folder in _drop_folders(folders.work)]


def sent_drops(folders: CourierFolders) -> list[DropRecord]:
    """Return every drop in sent/<day>/, oldest first, reading the whole archive."""
    found = []
    for day in _drop_folders(folders.sent):
        found.extend(read_drop(folder, SENT) for folder in _drop_folders(day))
    return sorted(found, key=lambda drop: drop.drop_id)


def locate_drop(folders: CourierFolders, drop_id: str) -> DropRecord | None:
    """Find a drop by id in work/, failed/ or any day of sent/."""
    for area, folder in ((WORK, folders.work_dir(drop_id)), (FAILED, folders.failed_dir(drop_id))):
        if folder.is_dir():
            return read_drop(folder, area)
    for day in _drop_folders(folders.sent):
        if (day / drop_id).is_dir():
            return read_drop(day / drop_id, SENT)
    return None


def document_drops(folders: CourierFolders, document_id: str) -> list[DropRecord]:
    """Return the drops of one document in work/, failed/ and sent/, oldest first.

    work/ and failed/ are read in full. sent/ can hold years of drops, so only the drop
    named in the document's status file is looked up there, unless the status file is
    missing, in which case the whole of sent/ is read.
    """
    candidates = work_drops(folders) + failed_drops(folders)
    status = read_status(folders, document_id)
    if status is None:
        candidates += sent_drops(folders)
    elif status.get("drop_id"):
        hinted = locate_drop(folders, status["drop_id"])
        if hinted is not None and hinted.area == SENT:
            candidates.append(hinted)
    matching = [drop for drop in candidates if drop.document_id == document_id]
    return sorted(matching, key=lambda drop: drop.drop_id)
