"""Write drops into the inbox the way 1C:Enterprise does: files first, sidecar last."""

import hashlib
import json
import os
import uuid
from pathlib import Path


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fake_pdf(label: str, size: int = 4096) -> bytes:
    """Return bytes that start like a PDF 1C writes and differ per label."""
    head = b"%PDF-1.7\n% " + label.encode("utf-8") + b"\n"
    filler = hashlib.sha256(label.encode()).digest() * (size // 32 + 1)
    return (head + filler)[:size]


def sidecar_text(payload: dict, *, crlf: bool = False, tabs: bool = False) -> str:
    text = json.dumps(payload, ensure_ascii=False, indent="\t" if tabs else 2)
    return text.replace("\n", "\r\n") if crlf else text


def write_drop(inbox: Path, stem: str, payload: dict, files: dict[str, bytes] | None = None,
               *, encoding: str = "utf-8", bom: bool = False, crlf: bool = False,
               tabs: bool = False) -> Path:
    """Write the files, then the sidecar under a .tmp name, then rename it into place."""
    for name, data in (files or {}).items():
        (inbox / name).write_bytes(data)
    raw = sidecar_text(payload, crlf=crlf, tabs=tabs).encode(encoding)
    if bom:
        raw = b"\xef\xbb\xbf" + raw
    temporary = inbox / f"{stem}.json.tmp"
    temporary.write_bytes(raw)
    final = inbox / f"{stem}.json"
    os.rename(temporary, final)
    return final


def new_document_id() -> str:
    return str(uuid.uuid4())


def write_in_chunks(path: Path, data: bytes, chunk_bytes: int, pause_seconds: float) -> None:
    """Write `data` the way a slow copy over a share does: chunk, flush, pause, repeat."""
    import time

    with open(path, "wb") as handle:
        for start in range(0, len(data), chunk_bytes):
            handle.write(data[start:start + chunk_bytes])
            handle.flush()
            os.fsync(handle.fileno())
            time.sleep(pause_seconds)


def read_status(root: Path, document_id: str) -> dict | None:
    """Return the document's status file as 1C reads it, or None before it exists."""
    path = root / "status" / f"{document_id}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def wait_for_state(root: Path, document_id: str, states: set[str], timeout: float = 60) -> dict:
    """Poll the status file until its state is one of `states`; return the status."""
    from tests.processes import wait_for

    def reached():
        status = read_status(root, document_id)
        return status if status and status["state"] in states else None
    return wait_for(reached, timeout, interval=0.1, message=f"{document_id} in {states}")
