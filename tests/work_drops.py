"""Drops placed straight into work/ as a watcher claims them, and the figures fault tests report.

Fault tests skip the watcher: they write the claimed drop and queue its task themselves,
so the only moving parts are the workers, Redis and the sandbox.
"""

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from celery import Celery

from delivery.folders import atomic_write_json, new_drop_id, utc_now_iso
from delivery.timing import FAST
from tests.drops import fake_pdf, sha256_bytes

DELIVER_TASK = "courier.deliver_drop"
DELIVERY_QUEUE = "courier"


@dataclass
class WrittenDrop:
    """A drop the test wrote: its ids, recipients and the SHA-256 of each file."""

    drop_id: str
    document_id: str
    user_ids: list[str]
    file_hashes: list[str]


def write_claimed_drop(root: Path, payload: dict, files: dict[str, bytes]) -> str:
    """Write sidecar, files and claim.json into work/<drop_id>/; return the drop id."""
    drop_id = new_drop_id()
    folder = root / "work" / drop_id
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    sidecar_name = f"{payload['document_id']}.json"
    (folder / sidecar_name).write_text(json.dumps(payload, ensure_ascii=False), "utf-8")
    atomic_write_json(folder / "claim.json", {
        "drop_id": drop_id, "sidecar": sidecar_name, "files": sorted(files),
        "document_id": payload["document_id"], "claimed_at": utc_now_iso(),
        "claimed_by": "tests",
    })
    return drop_id


def invoice_drop(root: Path, label: str, user_ids: list[str], *,
                 document_id: str | None = None, size: int = 2048) -> WrittenDrop:
    """Write one invoice with one PDF for `user_ids`; the PDF's bytes depend on `label`."""
    document_id = document_id or str(uuid.uuid4())
    data = fake_pdf(label, size)
    name = f"Счёт {label}.pdf"
    payload = {"document_id": document_id, "kind": "invoice", "number": label,
               "recipients": [{"user_id": user_id} for user_id in user_ids], "files": [name]}
    drop_id = write_claimed_drop(root, payload, {name: data})
    return WrittenDrop(drop_id, document_id, list(user_ids), [sha256_bytes(data)])


def producer_app(redis_url: str) -> Celery:
    """Return a Celery app that only sends delivery tasks, as the watcher does."""
    app = Celery("courier-tests", broker=redis_url)
    app.conf.update(task_default_queue=DELIVERY_QUEUE, broker_connection_retry=True)
    return app


def queue_drops(app: Celery, redis_client, drops: list[WrittenDrop]) -> None:
    """Mark each drop in flight with the FAST profile's marker lifetime and send its task."""
    marker_seconds = FAST.visibility_timeout_seconds + FAST.inflight_margin_seconds
    for drop in drops:
        redis_client.set(f"courier:inflight:{drop.drop_id}", "1", ex=marker_seconds)
        app.send_task(DELIVER_TASK, args=[drop.drop_id], queue=DELIVERY_QUEUE)


def read_status(root: Path, document_id: str) -> dict | None:
    path = root / "status" / f"{document_id}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def delivered_drop_ids(root: Path) -> set[str]:
    """Return the ids of drops in sent/, where only delivered and duplicate drops go.

    Only folder names are listed: the tests poll this while the sandbox serves requests
    in the same process, and reading every receipt would hold the GIL long enough to
    bunch the sandbox's request timestamps.
    """
    return {entry.name for day in (root / "sent").glob("*") for entry in day.iterdir()}


def upload_counts(sandbox, drops: list[WrittenDrop]) -> Counter:
    """Count the sandbox's file uploads by (document_id, user_id, file sha256)."""
    document_of = {sha: drop.document_id for drop in drops for sha in drop.file_hashes}
    counts = Counter()
    for record in sandbox.received():
        if record["kind"] != "file":
            continue
        document_id = document_of.get(record["sha256"], "unknown")
        counts[(document_id, record["meta"]["user_id"], record["sha256"])] += 1
    return counts


@dataclass
class Figures:
    """What a fault test measured: drops written, lost and duplicate uploads."""

    scenario: str
    drops: int
    lost: int
    duplicates: int
    uploads: int
    missing_uploads: int

    def line(self) -> str:
        return (f"{self.scenario}: drops={self.drops} lost={self.lost} "
                f"duplicate_uploads={self.duplicates} uploads={self.uploads} "
                f"missing_uploads={self.missing_uploads}")


def measure(scenario: str, root: Path, sandbox, drops: list[WrittenDrop]) -> Figures:
    """Count lost drops and duplicate or missing uploads at the sandbox."""
    delivered = delivered_drop_ids(root)
    lost = sum(1 for drop in drops if drop.drop_id not in delivered)
    counts = upload_counts(sandbox, drops)
    expected = {(drop.document_id, user_id, sha) for drop in drops
                for user_id in drop.user_ids for sha in drop.file_hashes}
    duplicates = sum(count - 1 for key, count in counts.items() if key in expected and count > 1)
    missing = sum(1 for key in expected if counts.get(key, 0) == 0)
    return Figures(scenario, len(drops), lost, duplicates, sum(counts.values()), missing)


def peak_in_window(times: list[float], window_seconds: float) -> int:
    """Return the largest number of `times` that fall within any `window_seconds` span."""
    ordered = sorted(times)
    peak, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window_seconds:
            start += 1
        peak = max(peak, end - start + 1)
    return peak
