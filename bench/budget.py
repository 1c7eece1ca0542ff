"""Scenario 1, budget use: how much of the API's 600 uploads a minute the courier uses.

The sandbox enforces the public limits (20 a second, 600 a minute) and the courier runs
with its default limits, so any 429 means the shared limiter let too much through.
"""

import statistics
from pathlib import Path

from bench.measure import busiest_minute_counts
from bench.pipeline import CourierRun, run_courier
from bench.plan import Plan
from bench.results import Row, Section
from bench.stack import Stack

API_RATE_PER_SECOND = 20
API_RATE_PER_MINUTE = 600


def run(plan: Plan, base: Path) -> list[Section]:
    section = Section(
        "budget", "1. Budget use at the default limits",
        f"{plan.budget_drops} drops (one 16 KiB PDF, one recipient each) are in the inbox "
        f"before the watcher starts. Sandbox: {API_RATE_PER_SECOND}/s and "
        f"{API_RATE_PER_MINUTE}/min enforced, {plan.latency_ms} ms latency. Courier: "
        "default CONNECT_RATE_PER_SECOND=20 and CONNECT_RATE_PER_MINUTE=600, default "
        f"WATCHER_SETTLE_SECONDS=2, one worker with {plan.budget_concurrency} pool "
        "processes. Uploads per minute is the median count over every full sliding "
        "60-second window of the sandbox's first-byte times.")
    rows = _empty_rows()
    short_run = False
    with Stack(base / "sandbox") as outer:
        sandbox = outer.start_sandbox(plan.latency_ms, API_RATE_PER_SECOND,
                                      API_RATE_PER_MINUTE)
        for run_index in range(plan.budget_runs):
            print(f"Бюджет: прогон {run_index + 1} из {plan.budget_runs}, "
                  f"{plan.budget_drops} дропов…", flush=True)
            result = run_courier(base / f"run-{run_index}", sandbox, f"budget{run_index}",
                                 plan.budget_drops, plan.budget_concurrency,
                                 timeout_seconds=plan.budget_drops + 120)
            short_run = _add_run(rows, result) or short_run

    section.rows = list(rows.values())
    if short_run:
        section.notes.append("A run shorter than a minute has no full 60-second window, "
                             "so its uploads per minute is just the number of uploads.")
    return [section]


def _empty_rows() -> dict[str, Row]:
    return {
        "per_minute": Row("budget.uploads_per_minute", "uploads per minute achieved",
                          "uploads/min"),
        "use": Row("budget.use_percent", "budget use (uploads per minute / 600)", "%"),
        "busiest": Row("budget.busiest_minute", "uploads in the busiest 60 s window",
                       "uploads"),
        "rejected": Row("budget.rate_limited", "429 responses from the sandbox", "count"),
        "wall": Row("budget.wall_seconds", "time to deliver all drops", "s"),
    }


def _add_run(rows: dict[str, Row], result: CourierRun) -> bool:
    """Add one run's figures to the rows; return True when the run lasted under a minute."""
    times = [record["first_byte_at"] for record in result.records]
    counts = busiest_minute_counts(times)
    per_minute = statistics.median(counts)
    rows["per_minute"].values.append(per_minute)
    rows["use"].values.append(100 * per_minute / API_RATE_PER_MINUTE)
    rows["busiest"].values.append(max(counts))
    rows["rejected"].values.append(result.stats["rate_limited"])
    rows["wall"].values.append(result.wall_seconds)
    return max(times) - min(times) < 60
