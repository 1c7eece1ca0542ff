"""Claiming a drop: the atomic rename of its sidecar out of the inbox decides the owner.

The sidecar moves first, into a work folder named by a fresh drop id. A watcher whose
rename finds the sidecar gone has lost the race to another watcher, on this host or on
another one that shares the inbox, and backs off. Only the winner moves the files and
writes claim.json. A claim interrupted by a crash (a work folder with no claim.json) is
finished by `complete_interrupted_claims()`, which the watcher runs on start and then
every few minutes.

Rename is atomic only inside one file system, so inbox/ and work/ must share one mount;
watcher.mountcheck refuses to start otherwise.
"""

import logging
import os
import time
from pathlib import Path

from delivery.drop import CLAIM_FILE, default_file_names
from delivery.errors import InvalidDropError
from delivery.folders import (
    CourierFolders,
    atomic_write_json,
    new_drop_id,
    printable_name,
    process_label,
    utc_now_iso,
)
from delivery.sidecar import SIDECAR_SUFFIX, Sidecar, check_file_name, read_sidecar

log = logging.getLogger(__name__)

# A work folder without claim.json younger than this may belong to a claim in progress, s.
INTERRUPTED_CLAIM_AGE_SECONDS = 60


def take_sidecar(folders: CourierFolders, sidecar_name: str) -> str | None:
    """Rename the sidecar into work/<new drop_id>/; return the id, or None if lost the race."""
    drop_id = new_drop_id()
    work = folders.work_dir(drop_id)
    work.mkdir(parents=True)
    try:
        os.rename(folders.inbox / sidecar_name, work / sidecar_name)
    except FileNotFoundError:
        work.rmdir()
        return None
    except OSError:
        work.rmdir()
        raise
    return drop_id


def move_drop_files(folders: CourierFolders, drop_id: str, names: list[str]) -> list[str]:
    """Rename each plain listed file into the drop's work folder; return the plain names.

    A name that is missing from the inbox stays listed, so the worker's check reports it.
    """
    work = folders.work_dir(drop_id)
    plain = [name for name in names if _is_plain(name)]
    for name in plain:
        try:
            os.rename(folders.inbox / name, work / name)
        except FileNotFoundError:
            if not (work / name).exists():
                log.warning("Дроп %s: файл «%s» исчез из inbox во время захвата.", drop_id,
                            printable_name(name))
    return plain


def write_claim(folders: CourierFolders, drop_id: str, sidecar_name: str, files: list[str],
                document_id: str | None, **extra) -> None:
    """Write work/<drop_id>/claim.json: the record that the claim is complete."""
    atomic_write_json(folders.work_dir(drop_id) / CLAIM_FILE, {
        "drop_id": drop_id,
        "sidecar": printable_name(sidecar_name),
        "files": [printable_name(name) for name in files],
        "document_id": document_id,
        "claimed_at": utc_now_iso(),
        "claimed_by": process_label(),
        **extra,
    })


def claim_drop(folders: CourierFolders, sidecar_name: str, file_names: list[str],
               document_id: str | None) -> str | None:
    """Move a drop from the inbox into work/<drop_id>/; return the id, or None if lost."""
    drop_id = take_sidecar(folders, sidecar_name)
    if drop_id is None:
        return None
    moved = move_drop_files(folders, drop_id, file_names)
    write_claim(folders, drop_id, sidecar_name, moved, document_id)
    return drop_id


def stem_files(inbox: Path, sidecar_name: str) -> list[str]:
    """Files beside a sidecar that share its stem; used when the sidecar cannot be read."""
    try:
        return default_file_names(inbox, sidecar_name)
    except OSError:
        return []


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
    moved = move_drop_files(folders, work.name, sorted(set(names)))
    write_claim(folders, work.name, sidecar_path.name, moved,
                sidecar.document_id if sidecar else None, recovered=True)
    log.warning("Дроп %s: захват был прерван; файлы перенесены, дроп будет поставлен в очередь.",
                work.name)
    return True


def _try_read(path: Path) -> Sidecar | None:
    try:
        return read_sidecar(path)
    except (OSError, InvalidDropError):
        return None
