"""Measure the watcher process: idle CPU in polling mode, memory and scan cost with many
pending drops, and the claim rate. Not a test; run it by hand:

    .venv/bin/python -m tests.measure_watcher --pending 10000 --pending 100000

It starts its own redis-server on a loopback port and real `python -m watcher`
processes on temporary folders, and reads CPU time and RSS from /proc.
"""

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import redis

from tests.drops import fake_pdf
from tests.processes import (
    free_port,
    process_cpu_seconds,
    process_memory_kib,
    start_redis,
    wait_for,
    watcher_process,
)

USER_ID = "5c9d1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
FOLDERS = ("inbox", "work", "sent", "failed", "status", "feedback")


def make_root(base: Path, name: str) -> Path:
    root = base / name
    for folder in FOLDERS:
        (root / folder).mkdir(parents=True)
    return root


def write_drops(inbox: Path, count: int) -> None:
    """Write `count` complete drops (sidecar plus a 1 KiB PDF) straight into the inbox."""
    for index in range(count):
        stem = f"Счёт № БП-{index:06d}"
        (inbox / f"{stem}.pdf").write_bytes(fake_pdf(stem, 1024))
        sidecar = {"document_id": f"3f2c9a4e-5b1d-4c1e-9a57-{index:012d}", "kind": "invoice",
                   "number": f"БП-{index:06d}", "comment": "Счёт на оплату услуг за ноябрь",
                   "client": {"name": "ООО «Ромашка»", "inn": "7701234567"},
                   "recipients": [{"user_id": USER_ID}], "files": [f"{stem}.pdf"]}
        (inbox / f"{stem}.json").write_text(json.dumps(sidecar, ensure_ascii=False), "utf-8")


def heartbeat(client: redis.Redis, process) -> dict | None:
    raw = client.get(f"courier:watcher:heartbeat:{socket.gethostname()}:{process.process.pid}")
    return json.loads(raw) if raw else None


def start(root: Path, redis_url: str, log_name: str, **overrides):
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CONNECT_", "WATCHER_", "COURIER_"))}
    env.update({"COURIER_ROOT": str(root), "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    env.update(overrides)
    return watcher_process(env, root.parent / log_name).start()


def cpu_share(pid: int, seconds: float) -> float:
    """Return the process's CPU use over `seconds` as a share of one core."""
    before = process_cpu_seconds(pid)
    time.sleep(seconds)
    return (process_cpu_seconds(pid) - before) / seconds


def measure_idle(base: Path, redis_url: str, client: redis.Redis, seconds: float) -> None:
    root = make_root(base, "idle")
    process = start(root, redis_url, "idle.log", WATCHER_MODE="polling")
    try:
        wait_for(lambda: (heartbeat(client, process) or {}).get("last_scan_at"), 60)
        time.sleep(3)
        share = cpu_share(process.process.pid, seconds)
        memory = process_memory_kib(process.process.pid)
    finally:
        process.stop()
    print(f"idle, polling every 2 s, empty inbox: CPU {share * 100:.2f} % of one core over "
          f"{seconds:.0f} s; RSS {memory['VmRSS'] / 1024:.0f} MiB")


def measure_pending(base: Path, redis_url: str, client: redis.Redis, count: int) -> None:
    root = make_root(base, f"pending-{count}")
    started = time.monotonic()
    write_drops(root / "inbox", count)
    written = time.monotonic() - started
    # A settle time of a day keeps every drop pending.
    process = start(root, redis_url, f"pending-{count}.log", WATCHER_MODE="polling",
                    WATCHER_SETTLE_SECONDS="86400")
    try:
        started = time.monotonic()
        wait_for(lambda: (heartbeat(client, process) or {}).get("pending") == count, 600,
                 interval=0.5, message=f"{count} pending drops")
        first_scan = time.monotonic() - started
        share = cpu_share(process.process.pid, 20)
        memory = process_memory_kib(process.process.pid)
        scan_seconds = heartbeat(client, process)["scan_seconds"]
    finally:
        process.stop()
    print(f"{count} pending drops (written in {written:.0f} s): first scan with parsing "
          f"{first_scan:.1f} s; later scans {scan_seconds:.2f} s each "
          f"({scan_seconds / count * 1e6:.1f} µs per drop); CPU {share * 100:.1f} % of one "
          f"core while waiting; RSS {memory['VmRSS'] / 1024:.0f} MiB, "
          f"peak {memory['VmHWM'] / 1024:.0f} MiB")


def measure_claims(base: Path, redis_url: str, client: redis.Redis, count: int) -> None:
    root = make_root(base, f"claims-{count}")
    write_drops(root / "inbox", count)
    client.delete("courier")
    process = start(root, redis_url, f"claims-{count}.log", WATCHER_MODE="polling",
                    WATCHER_SETTLE_SECONDS="0", WATCHER_POLL_SECONDS="0.5")
    try:
        started = time.monotonic()
        wait_for(lambda: (heartbeat(client, process) or {}).get("claimed_total") == count, 600,
                 interval=0.2, message=f"{count} claims")
        elapsed = time.monotonic() - started
        memory = process_memory_kib(process.process.pid)
    finally:
        process.stop()
    print(f"{count} drops claimed and queued by one watcher in {elapsed:.1f} s "
          f"({count / elapsed:.0f} claims/s, start-up and first parse included); "
          f"peak RSS {memory['VmHWM'] / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, action="append", default=[])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=30)
    arguments = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="measure-watcher-") as temporary:
        base = Path(temporary)
        port = free_port()
        server = start_redis(base / "redis", port, appendonly=False)
        client = redis.Redis(port=port)
        redis_url = f"redis://127.0.0.1:{port}/0"
        try:
            measure_idle(base, redis_url, client, arguments.idle_seconds)
            for count in arguments.pending:
                measure_pending(base, redis_url, client, count)
            if arguments.claims:
                measure_claims(base, redis_url, client, arguments.claims)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
