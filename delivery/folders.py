"""The folder contract under COURIER_ROOT and the file operations that keep it safe.

A drop only ever moves between these folders by rename; every file the courier writes
for 1C goes to a temporary name in the same folder first, so 1C never reads half a file.
"""

import json
import os
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

TEMP_SUFFIX = ".tmp"


@dataclass(frozen=True)
class CourierFolders:
    """Paths of the folder contract below one COURIER_ROOT."""

    root: Path

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def sent(self) -> Path:
        return self.root / "sent"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    @property
    def status(self) -> Path:
        return self.root / "status"

    @property
    def feedback(self) -> Path:
        return self.root / "feedback"

    def ensure(self) -> None:
        """Create every folder of the contract that does not exist yet."""
        for folder in (self.inbox, self.work, self.sent, self.failed, self.status,
                       self.feedback):
            folder.mkdir(parents=True, exist_ok=True)

    def work_dir(self, drop_id: str) -> Path:
        return self.work / drop_id

    def failed_dir(self, drop_id: str) -> Path:
        return self.failed / drop_id

    def sent_dir(self, drop_id: str, day: str) -> Path:
        return self.sent / day / drop_id

    def status_file(self, document_id: str) -> Path:
        return self.status / f"{document_id}.json"


def new_drop_id(now: datetime | None = None) -> str:
    """Return a unique, time-ordered drop id such as 20261204-201530-123456-9f3a1c."""
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%d-%H%M%S-%f}-{secrets.token_hex(3)}"


def utc_now_iso() -> str:
    """Return the current UTC time in RFC 3339 form with seconds precision."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def process_label() -> str:
    """Return host:pid, recorded in claims so an admin can tell who claimed a drop."""
    return f"{socket.gethostname()}:{os.getpid()}"


def atomic_write_chunks(path: Path, chunks: Iterable[bytes]) -> None:
    """Write `chunks` to a temporary file beside `path`, flush it to disk, rename it over.

    An exception raised while the chunks are produced leaves `path` untouched and the
    temporary file removed.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}{TEMP_SUFFIX}")
    try:
        with open(temporary, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename."""
    atomic_write_chunks(path, (data,))


def atomic_write_json(path: Path, payload: dict) -> None:
    """Write `payload` as indented UTF-8 JSON (Cyrillic as is) atomically."""
    text = json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path: Path) -> dict:
    """Read a JSON file the courier wrote itself."""
    return json.loads(path.read_text(encoding="utf-8"))


def move_dir(source: Path, target: Path) -> Path:
    """Rename a drop folder to `target`, creating the parent; never overwrite."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    os.rename(source, target)
    return target


def printable_name(name: str) -> str:
    """Return a file name that can be written as UTF-8, showing undecodable bytes as \\xNN.

    Python lists a name whose bytes are not UTF-8 (a share mounted without iocharset=utf8)
    with lone surrogates, which json and UTF-8 encoding reject; this form is safe in
    error.json, claim.json and logs, and equals `name` for every valid name.
    """
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # A surrogate outside U+DC80..U+DCFF did not come from a file system name.
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")
