"""Scenarios 2 and 3: throughput with the limit lifted, beside the naive script.

Each round runs the naive script, then the courier with each worker size, on the same
drops (same names, ids and bytes) and the same sandbox, so ratios pair runs of one
round.
"""

from pathlib import Path

from bench.baseline import run_naive
from bench.pipeline import run_courier
from bench.plan import Plan
from bench.results import Row, Section
from bench.stack import LIFTED_RATE_PER_MINUTE, LIFTED_RATE_PER_SECOND, Stack

# Settle time for these runs, s: the drops are complete before the watcher starts.
THROUGHPUT_SETTLE_SECONDS = 0


def lifted_settings() -> dict:
    return {"CONNECT_RATE_PER_SECOND": LIFTED_RATE_PER_SECOND,
            "CONNECT_RATE_PER_MINUTE": LIFTED_RATE_PER_MINUTE,
            "WATCHER_SETTLE_SECONDS": THROUGHPUT_SETTLE_SECONDS}


def run(plan: Plan, base: Path) -> list[Section]:
    rows = _empty_rows(plan)
    with Stack(base / "sandbox") as outer:
        sandbox = outer.start_sandbox(plan.latency_ms, 0, 0)
        for round_index in range(plan.throughput_runs):
            _run_round(plan, base / f"round-{round_index}", sandbox, round_index, rows)
    return _sections(plan, rows)


def _run_round(plan: Plan, base: Path, sandbox, round_index: int, rows: dict) -> None:
    label = f"lifted{round_index}"
    timeout_seconds = plan.throughput_drops + 120
    print(f"Пропускная способность: раунд {round_index + 1} из {plan.throughput_runs}, "
          f"наивный скрипт, {plan.throughput_drops} дропов…", flush=True)
    naive = run_naive(base / "naive", sandbox, label, plan.throughput_drops, timeout_seconds)
    rows["naive_rate"].values.append(naive.drops_per_second)
    rows["naive_cpu"].values.append(1000 * naive.cpu_seconds_per_drop)

    for concurrency in plan.throughput_concurrencies:
        print(f"Пропускная способность: раунд {round_index + 1}, курьер, процессов "
              f"воркера: {concurrency}…", flush=True)
        courier = run_courier(base / f"courier-{concurrency}", sandbox, label,
                              plan.throughput_drops, concurrency, timeout_seconds,
                              **lifted_settings())
        rows[f"rate_{concurrency}"].values.append(courier.drops_per_second)
        rows[f"cpu_{concurrency}"].values.append(1000 * courier.cpu_seconds_per_drop)
        rows[f"redis_{concurrency}"].values.append(
            1000 * courier.redis_cpu_seconds / courier.drops)
        rows[f"rate_ratio_{concurrency}"].values.append(
            courier.drops_per_second / naive.drops_per_second)
        rows[f"cpu_ratio_{concurrency}"].values.append(
            courier.cpu_seconds_per_drop / naive.cpu_seconds_per_drop)


def _empty_rows(plan: Plan) -> dict[str, Row]:
    rows = {
        "naive_rate": Row("baseline.drops_per_second", "naive script: drops per second",
                          "drops/s"),
        "naive_cpu": Row("baseline.cpu_ms_per_drop", "naive script: CPU per drop",
                         "CPU ms/drop"),
    }
    for concurrency in plan.throughput_concurrencies:
        workers = f"{concurrency} worker process{'es' if concurrency > 1 else ''}"
        rows[f"rate_{concurrency}"] = Row(
            f"throughput.drops_per_second.{concurrency}", f"courier, {workers}: drops per "
            "second", "drops/s")
        rows[f"cpu_{concurrency}"] = Row(
            f"throughput.cpu_ms_per_drop.{concurrency}", f"courier, {workers}: CPU per drop",
            "CPU ms/drop")
        rows[f"redis_{concurrency}"] = Row(
            f"throughput.redis_cpu_ms_per_drop.{concurrency}", f"courier, {workers}: "
            "redis-server CPU per drop (not in the courier's figure)", "CPU ms/drop")
        rows[f"rate_ratio_{concurrency}"] = Row(
            f"baseline.rate_ratio.{concurrency}", f"throughput ratio, courier with {workers}"
            " / naive", "×")
        rows[f"cpu_ratio_{concurrency}"] = Row(
            f"baseline.cpu_ratio.{concurrency}", f"CPU per drop ratio, courier with "
            f"{workers} / naive", "×")
    return rows


def _sections(plan: Plan, rows: dict[str, Row]) -> list[Section]:
    throughput = Section(
        "throughput", "2. Throughput with the limit lifted",
        f"{plan.throughput_drops} drops (one 16 KiB PDF, one recipient each) are in the "
        "inbox before the watcher starts. Sandbox: no rate limits, "
        f"{plan.latency_ms} ms latency. Courier: CONNECT_RATE_PER_SECOND="
        f"{LIFTED_RATE_PER_SECOND} and CONNECT_RATE_PER_MINUTE={LIFTED_RATE_PER_MINUTE} "
        f"(the limiter still runs), WATCHER_SETTLE_SECONDS={THROUGHPUT_SETTLE_SECONDS}, "
        "LOG_LEVEL INFO as shipped. The clock runs from the watcher's launch, with the "
        "workers already ready, until the last drop is in sent/ (checked every 0.25 s). "
        "CPU is the watcher's plus the worker's with its pool processes.")
    throughput.rows = [row for key, row in rows.items()
                       if key.startswith(("rate_", "cpu_", "redis_")) and "ratio" not in key]
    baseline = Section(
        "baseline", "3. Baseline: a naive script on the same drops and sandbox",
        "bench/naive.py is what a 1C admin would write: one process scans the folder, "
        "calls requests.post(files=...) for every file and recipient (a new connection "
        "each time, as requests.post does), and moves the drop away. The clock runs from "
        "its launch to its exit; its CPU comes from os.wait4. Each ratio pairs the "
        "courier run with the naive run of the same round.")
    baseline.rows = [rows["naive_rate"], rows["naive_cpu"]] + [
        row for key, row in rows.items() if "ratio" in key]
    return [throughput, baseline]
