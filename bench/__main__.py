"""`python -m bench`: run the scenarios and write the Markdown record.

    python -m bench [--quick] [--runs N] [--only NAME] [--output docs/BENCHMARKS.md]
"""

import argparse
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import budget, ingest, latency, memory, report, throughput
from bench.plan import FULL, QUICK, Plan
from bench.report import Goal, RunFacts

SCENARIOS = {
    "budget": budget.run,
    "throughput": throughput.run,
    "ingest": ingest.run,
    "latency": latency.run,
    "memory": memory.run,
}
EXIT_OK = 0

EPILOG = """\
примеры:
  python -m bench --output docs/BENCHMARKS.md
  python -m bench --quick --output /tmp/bench.md
  python -m bench --only latency --runs 1
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Замеры курьера на песочнице 1С-Коннект: бюджет запросов, пропускная "
        "способность рядом с наивным скриптом, приём, задержка и память. Результат — "
        "таблица Markdown.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="крошечная версия каждого сценария, около 90 с (для теста)")
    parser.add_argument("--runs", type=int, metavar="N",
                        help="число прогонов в каждом сценарии (по умолчанию своё у каждого)")
    parser.add_argument("--only", choices=sorted(SCENARIOS), action="append", metavar="ИМЯ",
                        help="запустить только этот сценарий (можно несколько раз): "
                        + ", ".join(SCENARIOS))
    parser.add_argument("--output", type=Path, default=Path("docs/BENCHMARKS.md"),
                        metavar="ФАЙЛ", help="куда записать таблицу (по умолчанию "
                        "docs/BENCHMARKS.md)")
    return parser


def build_goals(plan: Plan) -> list[Goal]:
    """Return the targets that the medians are judged against, keyed by this plan's rows."""
    settle = plan.latency_settle_seconds
    largest = max(plan.pending_counts)
    goals = [Goal("budget use ≥ 98 %", "budget.use_percent", ">=", 98),
             Goal("0 × 429", "budget.rate_limited", "<=", 0)]
    for concurrency in plan.throughput_concurrencies:
        goals.append(Goal(f"throughput ≥ 3 × naive, {concurrency} worker process(es)",
                          f"baseline.rate_ratio.{concurrency}", ">=", 3))
        goals.append(Goal(f"CPU per drop ≤ 1.5 × naive, {concurrency} worker process(es)",
                          f"baseline.cpu_ratio.{concurrency}", "<=", 1.5))
    goals.append(Goal("ingest ≥ 0.5 × raw loop", "ingest.ratio", ">=", 0.5))
    for mode in latency.MODES:
        goals.append(Goal(f"latency p50 ≤ settle + 0.3 s = {settle + 0.3:g} s, {mode} mode",
                          f"latency.{mode}.p50", "<=", settle + 0.3))
    goals.append(Goal(f"worker RSS growth ≤ 20 MiB for the {plan.large_file_mb} MB file",
                      "memory.worker_rss_growth", "<=", 20))
    goals.append(Goal(f"watcher RSS ≤ 100 MiB at {largest:,} pending",
                      f"memory.watcher_peak_rss.{largest}", "<=", 100))
    return goals


def run_scenarios(plan: Plan, names: list[str], work: Path) -> list:
    sections = []
    for name in names:
        started = time.monotonic()
        print(f"Сценарий {name}: начало.", flush=True)
        sections.extend(SCENARIOS[name](plan, work / name))
        print(f"Сценарий {name}: готово за {time.monotonic() - started:.0f} с.", flush=True)
    return sections


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.runs is not None:
        if args.runs < 1:
            build_parser().error(f"--runs должно быть не меньше 1, а указано {args.runs}")
        plan = plan.with_runs(args.runs)
    names = args.only or list(SCENARIOS)
    command = shlex.join(["python", "-m", "bench", *(argv if argv is not None
                                                     else sys.argv[1:])])

    started_at = datetime.now(timezone.utc)
    load_at_start = report.load_average()
    print(f"Замеры: {', '.join(names)}; нагрузка машины {load_at_start}.", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="courier-bench-") as temporary:
        sections = run_scenarios(plan, names, Path(temporary))

    facts = RunFacts(command, plan.quick, started_at, datetime.now(timezone.utc),
                     load_at_start, report.load_average(), time.monotonic() - started)
    report.write(args.output, sections, build_goals(plan), facts)
    print(f"Таблица записана в {args.output}.", flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
