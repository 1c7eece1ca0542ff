"""Scenario 4, ingest: how fast the watcher claims and queues a backlog, beside a raw loop.

The drops are in the inbox before the watcher starts and no worker runs, so the
delivery queue only grows. The clock stops when the queue contains one task per drop.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.drops import write_drops
from bench.measure import tree_cpu_seconds
from bench.plan import Plan
from bench.results import Row, Section
from bench.stack import Stack, wait_until
from tests.processes import PROJECT_ROOT

# The Celery queue the watcher sends delivery tasks to (tasks.application.DELIVERY_QUEUE).
DELIVERY_QUEUE = "courier"
RAW_QUEUE = "bench:raw"
INGEST_SETTLE_SECONDS = 0


def run(plan: Plan, base: Path) -> list[Section]:
    rows = {
        "watcher": Row("ingest.watcher_drops_per_second", "watcher: drops claimed and "
                       "queued per second", "drops/s"),
        "watcher_seconds": Row("ingest.watcher_seconds", "watcher: time until all are "
                               "queued", "s"),
        "watcher_cpu": Row("ingest.watcher_cpu_ms_per_drop", "watcher: CPU per drop",
                           "CPU ms/drop"),
        "raw": Row("ingest.raw_drops_per_second", "raw loop: drops per second", "drops/s"),
        "raw_seconds": Row("ingest.raw_seconds", "raw loop: time until all are queued", "s"),
        "ratio": Row("ingest.ratio", "ratio watcher / raw loop", "×"),
    }
    for run_index in range(plan.ingest_runs):
        print(f"Приём: прогон {run_index + 1} из {plan.ingest_runs}, "
              f"{plan.ingest_drops} дропов…", flush=True)
        watcher_seconds, watcher_cpu = _run_watcher(plan, base / f"watcher-{run_index}")
        raw_seconds = _run_raw_loop(plan, base / f"raw-{run_index}")
        rows["watcher"].values.append(plan.ingest_drops / watcher_seconds)
        rows["watcher_seconds"].values.append(watcher_seconds)
        rows["watcher_cpu"].values.append(1000 * watcher_cpu / plan.ingest_drops)
        rows["raw"].values.append(plan.ingest_drops / raw_seconds)
        rows["raw_seconds"].values.append(raw_seconds)
        rows["ratio"].values.append(raw_seconds / watcher_seconds)

    section = Section(
        "ingest", "4. Ingest of a backlog",
        f"{plan.ingest_drops} drops (one PDF each) are in the inbox before the process "
        f"starts, and no worker runs. Watcher: WATCHER_SETTLE_SECONDS="
        f"{INGEST_SETTLE_SECONDS}, WATCHER_MODE auto (events on this local disk). Its clock "
        "runs from its launch until the delivery queue contains one task per drop (LLEN "
        "checked every 0.1 s). Raw loop (bench/rawloop.py): one process, os.scandir, "
        "mkdir, rename of the sidecar and its PDF, one LPUSH per drop. Its clock runs from "
        "its launch to its exit. Start-up of either process is inside its time.")
    section.rows = list(rows.values())
    return [section]


def _run_watcher(plan: Plan, base: Path) -> tuple[float, float]:
    """Return the seconds and the watcher's CPU seconds until every drop is queued."""
    with Stack(base) as stack:
        root = stack.make_folders()
        client = stack.start_redis()
        write_drops(root / "inbox", "ingest", plan.ingest_drops)
        started = time.monotonic()
        watcher = stack.start_watcher(WATCHER_SETTLE_SECONDS=INGEST_SETTLE_SECONDS)
        wait_until(lambda: client.llen(DELIVERY_QUEUE) >= plan.ingest_drops,
                   plan.ingest_drops / 10 + 120, f"{plan.ingest_drops} queued tasks",
                   interval=0.1)
        seconds = time.monotonic() - started
        return seconds, tree_cpu_seconds([watcher.process.pid])


def _run_raw_loop(plan: Plan, base: Path) -> float:
    """Return the seconds the raw loop takes from launch to exit over the same drops."""
    with Stack(base) as stack:
        root = stack.make_folders()
        client = stack.start_redis()
        write_drops(root / "inbox", "ingest", plan.ingest_drops)
        command = [sys.executable, "-m", "bench.rawloop", str(root / "inbox"),
                   str(root / "work"), stack.redis_url, RAW_QUEUE]
        started = time.monotonic()
        subprocess.run(command, cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL,
                       timeout=plan.ingest_drops / 10 + 120, env=dict(os.environ))
        seconds = time.monotonic() - started
        queued = client.llen(RAW_QUEUE)
        if queued != plan.ingest_drops:
            raise RuntimeError(f"сырой цикл поставил в очередь {queued} из "
                               f"{plan.ingest_drops} дропов")
        return seconds
