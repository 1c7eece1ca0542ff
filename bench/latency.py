"""Scenario 5, latency at idle: from the sidecar's rename to the sandbox's first byte.

One drop at a time: the next is written only after the previous one is in sent/, after
a random pause of up to one poll interval, so drops land at every phase of the polling
cycle. Both clocks are this machine's wall clock (time.time()): the rename time here and
the `first_byte_at` the sandbox records when the request line arrives.
"""

import random
import time
from pathlib import Path

from bench.drops import write_drop
from bench.measure import percentile
from bench.plan import Plan
from bench.results import Row, Section
from bench.stack import Stack, count_sent, wait_until

MODES = ("events", "polling")
# Seed of the pauses between drops, so every run of the benchmark uses the same ones.
PAUSE_SEED = 20261204
# How often the sandbox's count of received uploads is read, s.
RECEIVED_POLL_SECONDS = 0.02


def run(plan: Plan, base: Path) -> list[Section]:
    rows = {}
    for mode in MODES:
        for name in ("p50", "p95", "p99"):
            rows[(mode, name)] = Row(f"latency.{mode}.{name}", f"{mode} mode: {name}", "s")
    random_pauses = random.Random(PAUSE_SEED)

    with Stack(base) as stack:
        stack.make_folders()
        client = stack.start_redis()
        sandbox = stack.start_sandbox(plan.latency_ms, 20, 600)
        stack.start_worker(2)
        delivered = 0
        for run_index in range(plan.latency_runs):
            for mode in MODES:
                print(f"Задержка: прогон {run_index + 1} из {plan.latency_runs}, режим "
                      f"{mode}, {plan.latency_drops} дропов по одному…", flush=True)
                samples, delivered = _run_mode(plan, stack, client, sandbox, mode,
                                               f"{mode}{run_index}", delivered,
                                               random_pauses)
                for name, share in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
                    rows[(mode, name)].values.append(percentile(samples, share))

    section = Section(
        "latency", "5. Latency of one drop at idle",
        f"One drop at a time, {plan.latency_drops} drops per run and mode, each after "
        f"the previous one is in sent/ and a random pause of 0-{plan.latency_poll_seconds:g}"
        f" s. WATCHER_SETTLE_SECONDS={plan.latency_settle_seconds:g}, "
        f"WATCHER_POLL_SECONDS={plan.latency_poll_seconds:g}. Sandbox at 20/s and 600/min "
        f"with {plan.latency_ms} ms latency, one worker with 2 pool processes (the "
        "Procfile's). Latency is the sandbox's first_byte_at minus the time the "
        "sidecar's rename returned. Each run gets its own watcher, and a first drop per "
        "run warms it up and is not counted.")
    section.rows = list(rows.values())
    section.notes.append(f"With {plan.latency_drops} drops per run, p95 and p99 of one run "
                         "are close to its slowest drop.")
    return [section]


def _run_mode(plan: Plan, stack: Stack, client, sandbox, mode: str, label: str,
              delivered: int, random_pauses: random.Random) -> tuple[list[float], int]:
    """Send the warm-up drop and the measured drops; return latencies and drops delivered."""
    watcher = stack.start_watcher(WATCHER_MODE=mode,
                                  WATCHER_SETTLE_SECONDS=plan.latency_settle_seconds,
                                  WATCHER_POLL_SECONDS=plan.latency_poll_seconds)
    try:
        wait_until(lambda: stack.watcher_heartbeat(client, watcher).get("last_scan_at"), 60,
                   "the watcher's first scan")
        samples = []
        for index in range(plan.latency_drops + 1):
            time.sleep(random_pauses.uniform(0, plan.latency_poll_seconds))
            latency = _send_one(stack, sandbox, label, index, delivered)
            delivered += 1
            if index > 0:
                samples.append(latency)
        return samples, delivered
    finally:
        stack.stop(watcher)


def _send_one(stack: Stack, sandbox, label: str, index: int, delivered: int) -> float:
    """Write one drop, wait until it is received and in sent/; return its latency, s."""
    before = sandbox.stats()["received"]
    renamed_at = write_drop(stack.root / "inbox", label, index)
    wait_until(lambda: sandbox.stats()["received"] > before, 60, f"upload of {label}-{index}",
               interval=RECEIVED_POLL_SECONDS)
    record = sandbox.received(since=before)[0]
    wait_until(lambda: count_sent(stack.root) > delivered, 60, f"{label}-{index} in sent/",
               interval=RECEIVED_POLL_SECONDS)
    return record["first_byte_at"] - renamed_at
