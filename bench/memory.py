"""Scenario 6, memory: the watcher with many pending drops, a worker uploading a large file.

Pending drops stay pending because the watcher runs with a settle time of a day. Worker
RSS is that of its single pool process, which runs the upload. It is sampled every 20 ms
from /proc while the large drop goes out.
"""

import time
from pathlib import Path

from bench.drops import write_drop, write_drops, write_large_drop
from bench.measure import RssSampler, child_pids, memory_kib
from bench.pipeline import wait_for_delivery
from bench.plan import Plan
from bench.results import Row, Section
from bench.stack import Stack, wait_until

# A settle time that keeps every drop pending for the whole measurement, s.
KEEP_PENDING_SETTLE_SECONDS = 86_400
PENDING_PDF_BYTES = 1024
MIB = 1024


def run(plan: Plan, base: Path) -> list[Section]:
    section = Section(
        "memory", "6. Memory",
        "Watcher: the drops (sidecar plus a 1 KiB PDF each) are in the inbox before it "
        f"starts, and WATCHER_SETTLE_SECONDS={KEEP_PENDING_SETTLE_SECONDS} keeps them "
        "pending. Peak RSS is VmHWM once the heartbeat counts every drop as pending and "
        "one more scan has run. Worker: one worker with 1 pool process, with MAX_FILE_MB "
        f"and the sandbox's --max-file-mb raised to {plan.large_file_mb + 100}. A small "
        "drop warms the pool process up. Then its VmRSS is read (before) and sampled "
        f"every 20 ms while a {plan.large_file_mb} MB drop is uploaded (peak during).")
    for count, runs in zip(plan.pending_counts, plan.pending_runs):
        section.rows.extend(_watcher_rows(plan, base / f"pending-{count}", count, runs))
    section.rows.extend(_worker_rows(plan, base / "large-file"))
    return [section]


def _watcher_rows(plan: Plan, base: Path, count: int, runs: int) -> list[Row]:
    peak = Row(f"memory.watcher_peak_rss.{count}", f"watcher peak RSS, {count:,} pending "
               "drops", "MiB")
    first_scan = Row(f"memory.watcher_first_scan.{count}", f"watcher: time until all "
                     f"{count:,} are pending (first scan)", "s")
    with Stack(base) as stack:
        root = stack.make_folders()
        client = stack.start_redis()
        print(f"Память: пишем {count} дропов для наблюдателя…", flush=True)
        write_drops(root / "inbox", "pending", count, PENDING_PDF_BYTES)
        for run_index in range(runs):
            print(f"Память: наблюдатель с {count} ожидающими дропами, прогон "
                  f"{run_index + 1} из {runs}…", flush=True)
            started = time.monotonic()
            watcher = stack.start_watcher(WATCHER_SETTLE_SECONDS=KEEP_PENDING_SETTLE_SECONDS)
            heartbeat = wait_until(
                lambda: _full_heartbeat(stack, client, watcher, count),
                count / 100 + 120, f"{count} pending drops", interval=0.2)
            first_scan.values.append(time.monotonic() - started)
            wait_until(lambda: stack.watcher_heartbeat(client, watcher)["written_at"]
                       > heartbeat["written_at"], 120, "the next heartbeat")
            peak.values.append(memory_kib(watcher.process.pid)["VmHWM"] / MIB)
            stack.stop(watcher)
    return [peak, first_scan]


def _full_heartbeat(stack: Stack, client, watcher, count: int) -> dict | None:
    heartbeat = stack.watcher_heartbeat(client, watcher)
    return heartbeat if heartbeat.get("pending") == count else None


def _worker_rows(plan: Plan, base: Path) -> list[Row]:
    size_bytes = plan.large_file_mb * 1000 * 1000
    max_file_mb = plan.large_file_mb + 100
    before = Row("memory.worker_rss_before", "worker pool process RSS before the upload",
                 "MiB")
    during = Row("memory.worker_rss_during", f"worker pool process peak RSS during the "
                 f"{plan.large_file_mb} MB upload", "MiB")
    growth = Row("memory.worker_rss_growth", "worker RSS growth (peak during - before)",
                 "MiB")
    with Stack(base) as stack:
        root = stack.make_folders()
        stack.start_redis()
        stack.start_sandbox(plan.latency_ms, 20, 600, max_file_mb=max_file_mb)
        worker = stack.start_worker(1, MAX_FILE_MB=max_file_mb)
        stack.start_watcher(MAX_FILE_MB=max_file_mb)
        write_drop(root / "inbox", "warm-up", 0)
        wait_for_delivery(root, 1, 120)

        for run_index in range(plan.large_file_runs):
            print(f"Память: воркер, файл {plan.large_file_mb} МБ, прогон {run_index + 1} из "
                  f"{plan.large_file_runs}…", flush=True)
            pool_pids = child_pids(worker.process.pid)
            rss_before = max(memory_kib(pid)["VmRSS"] for pid in pool_pids)
            with RssSampler(pool_pids) as sampler:
                write_large_drop(root / "inbox", f"large{run_index}", size_bytes)
                wait_for_delivery(root, run_index + 2, 600)
            before.values.append(rss_before / MIB)
            during.values.append(sampler.max_kib / MIB)
            growth.values.append((sampler.max_kib - rss_before) / MIB)
    return [before, during, growth]
