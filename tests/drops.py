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
