"""Claiming a drop: the atomic rename of its sidecar out of the inbox decides the owner.

The sidecar moves first. A watcher whose rename finds the sidecar gone has lost the race
to another watcher and backs off; only the winner moves the files and writes claim.json.
A claim interrupted by a crash (a work folder with no claim.json) is finished by
`complete_interrupted_claims()` on the next start.
"""

import logging
import os
import time
from pathlib import Path

from delivery.drop import CLAIM_FILE, default_file_names
from delivery.folders import CourierFolders, atomic_write_json, new_drop_id, process_label, utc_now_iso
from delivery.sidecar import SIDECAR_SUFFIX, Sidecar, check_file_name, read_sidecar
from delivery.errors import InvalidDropError

log = logging.getLogger(__name__)

# A work folder without claim.json younger than this may belong to a claim in progress, s.
INTERRUPTED_CLAIM_AGE_SECONDS = 60


def claim_drop(folders: CourierFolders, sidecar_name: str, file_names: list[str],
               document_id: str | None) -> str | None:
    """Move a drop from the inbox into work/<drop_id>/; return the id, or None if lost."""
    drop_id = new_drop_id()
    work = folders.work_dir(drop_id)
    work.mkdir(parents=True)
    try:
        os.rename(folders.inbox / sidecar_name, work / sidecar_name)
    except FileNotFoundError:
        work.rmdir()
        return None

    moved = _move_files(folders.inbox, work, file_names)
    atomic_write_json(work / CLAIM_FILE, {
        "drop_id": drop_id,
        "sidecar": sidecar_name,
        "files": moved,
        "document_id": document_id,
        "claimed_at": utc_now_iso(),
        "claimed_by": process_label(),
    })
    return drop_id


def stem_files(inbox: Path, sidecar_name: str) -> list[str]:
    """Files beside a sidecar that share its stem; used when the sidecar cannot be read."""
    try:
        return default_file_names(inbox, sidecar_name)
    except OSError:
        return []


def _move_files(source: Path, target: Path, names: list[str]) -> list[str]:
    """Rename each listed file into the work folder; a missing one stays listed for the check."""
    for name in names:
        try:
            check_file_name(name)
        except ValueError:
            continue
        try:
            os.rename(source / name, target / name)
        except FileNotFoundError:
            if not (target / name).exists():
                log.warning("Файл «%s» исчез из inbox во время захвата дропа.", name)
    return [name for name in names if _is_plain(name)]


def _is_plain(name: str) -> bool:
    try:
        check_file_name(name)
    except ValueError:
        return False
    return True


def complete_interrupted_claims(folders: CourierFolders, now: float | None = None) -> list[str]:
    """Finish claims that a crashed watcher left without claim.json; return their ids."""
    now = now or time.time()
    completed = []
    if not folders.work.is_dir():
        return completed
    for work in sorted(folders.work.iterdir()):
        if not work.is_dir() or (work / CLAIM_FILE).exists():
            continue
        if now - work.stat().st_mtime < INTERRUPTED_CLAIM_AGE_SECONDS:
            continue
        if _finish_claim(folders, work):
            completed.append(work.name)
    return completed


def _finish_claim(folders: CourierFolders, work: Path) -> bool:
    sidecars = [path for path in work.iterdir() if path.name.lower().endswith(SIDECAR_SUFFIX)]
    if not sidecars:
        if not any(work.iterdir()):
            work.rmdir()
        return False
    sidecar_path = sidecars[0]
    sidecar = _try_read(sidecar_path)
    if sidecar is not None and sidecar.files is not None:
        names = list(sidecar.files)
    else:
        names = stem_files(folders.inbox, sidecar_path.name) + stem_files(work, sidecar_path.name)
    moved = _move_files(folders.inbox, work, sorted(set(names)))
    atomic_write_json(work / CLAIM_FILE, {
        "drop_id": work.name, "sidecar": sidecar_path.name, "files": moved,
        "document_id": sidecar.document_id if sidecar else None,
        "claimed_at": utc_now_iso(), "claimed_by": process_label(), "recovered": True,
    })
    log.warning("Дроп %s: захват был прерван; файлы перенесены, дроп будет поставлен в очередь.",
                work.name)
    return True


def _try_read(path: Path) -> Sidecar | None:
    try:
        return read_sidecar(path)
    except (OSError, InvalidDropError):
        return None
