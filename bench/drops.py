"""Benchmark drops: a PDF and a sidecar each, written the way 1C writes them.

Names and document ids depend only on the set's label and the index, so the courier and
the naive script see the same drops in every run.
"""

import json
import os
import time
import uuid
from pathlib import Path

from bench.stack import SUBSCRIBER_IDS
from tests.drops import fake_pdf

# Size of each drop's PDF, bytes. An assumed size of a small one-page invoice, not measured
# from 1C's output.
PDF_BYTES = 16 * 1024
DOCUMENT_NAMESPACE = uuid.UUID("5b0c1f3e-8d2a-4c6b-9e1f-2a3b4c5d6e7f")


def document_id(label: str, index: int) -> str:
    return str(uuid.uuid5(DOCUMENT_NAMESPACE, f"{label}-{index}"))


def sidecar_payload(label: str, index: int, file_name: str | None) -> dict:
    """Return the sidecar of drop `index`: one recipient, one file (or none when None)."""
    return {
        "document_id": document_id(label, index),
        "kind": "invoice",
        "number": f"БП-{index:06d}",
        "date": "2026-12-04",
        "client": {"name": "ООО «Ромашка»", "inn": "7701234567"},
        "comment": "Счёт на оплату услуг за ноябрь",
        "recipients": [{"user_id": SUBSCRIBER_IDS[index % len(SUBSCRIBER_IDS)]}],
        "files": [file_name] if file_name else [],
    }


def write_drop(inbox: Path, label: str, index: int, pdf_bytes: int = PDF_BYTES) -> float:
    """Write the PDF, then the sidecar as .json.tmp renamed to .json; return the rename time."""
    stem = f"Счёт БП-{label}-{index:06d}"
    pdf_name = f"{stem}.pdf"
    (inbox / pdf_name).write_bytes(fake_pdf(f"{label}-{index}", pdf_bytes))
    text = json.dumps(sidecar_payload(label, index, pdf_name), ensure_ascii=False, indent=2)
    temporary = inbox / f"{stem}.json.tmp"
    temporary.write_text(text, encoding="utf-8")
    os.rename(temporary, inbox / f"{stem}.json")
    return time.time()


def write_drops(inbox: Path, label: str, count: int, pdf_bytes: int = PDF_BYTES) -> None:
    for index in range(count):
        write_drop(inbox, label, index, pdf_bytes)


def write_large_drop(inbox: Path, label: str, size_bytes: int) -> None:
    """Write one drop whose file is `size_bytes` long: one 8 MiB block of PDF-like bytes, repeated."""
    stem = f"Архив БП-{label}"
    chunk = fake_pdf(label, 8 * 1024 * 1024)
    with open(inbox / f"{stem}.pdf", "wb") as handle:
        written = 0
        while written < size_bytes:
            piece = chunk[:size_bytes - written]
            handle.write(piece)
            written += len(piece)
    text = json.dumps(sidecar_payload(label, 0, f"{stem}.pdf"), ensure_ascii=False)
    temporary = inbox / f"{stem}.json.tmp"
    temporary.write_text(text, encoding="utf-8")
    os.rename(temporary, inbox / f"{stem}.json")
