"""Write the benchmark's Markdown record: machine facts, command lines, tables and goals."""

import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from bench.results import Row, Section
from tests.processes import find_redis_server

CLOSING_NOTE = Path(__file__).with_name("closing_note.md")

PROCESS_COMMANDS = """\
| process | command line |
|---|---|
| redis-server | `redis-server --bind 127.0.0.1 --port PORT --dir DIR --appendonly yes --save "" --maxmemory-policy noeviction --protected-mode yes` (one per run) |
| sandbox | `python -m delivery.sandbox --listen 127.0.0.1:PORT --latency-ms 20 --rate-per-second 20\\|0 --rate-per-minute 600\\|0 --max-file-mb N --log-level WARNING` |
| worker | `celery -A tasks worker --loglevel INFO --concurrency N --hostname bench-worker@%h` (the Procfile's command; prefork pool) |
| watcher | `python -m watcher` |
| naive script | `python bench/naive.py INBOX DONE http://127.0.0.1:PORT LOGIN PASSWORD LINE_ID` |
| raw loop | `python -m bench.rawloop INBOX WORK redis://127.0.0.1:PORT/0 bench:raw` |
"""


@dataclass(frozen=True)
class Goal:
    """A target for the median of one row: `row median <op> target`."""

    text: str
    key: str
    operator: str
    target: float

    def met(self, value: float) -> bool:
        return value >= self.target if self.operator == ">=" else value <= self.target


@dataclass
class RunFacts:
    """Facts about the run that the report prints in its header and machine table."""

    command: str
    quick: bool
    started_at: datetime
    finished_at: datetime
    load_at_start: str
    load_at_end: str
    duration_seconds: float


def load_average() -> str:
    """Return the 1, 5 and 15-minute load averages from /proc/loadavg."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine_facts() -> list[tuple[str, str]]:
    """Return (name, value) pairs describing this machine and the software versions."""
    cpu_model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.partition(":")[2].strip()
            break
    memory_kib = next(int(line.split()[1]) for line in
                      Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal:"))
    redis_binary = find_redis_server()
    redis_version = subprocess.run([redis_binary, "--version"], capture_output=True,
                                   text=True).stdout.strip() if redis_binary else "not found"
    packages = ", ".join(f"{name} {_version(name)}" for name in
                         ("celery", "kombu", "redis", "requests", "requests-toolbelt",
                          "limits", "watchdog"))
    return [
        ("CPUs (`nproc`)", str(os.cpu_count())),
        ("CPU model", cpu_model),
        ("memory", f"{memory_kib / 1024 / 1024:.1f} GiB"),
        ("kernel", platform.release()),
        ("Python", platform.python_version()),
        ("Python packages", packages),
        ("Redis", redis_version),
    ]


def render(sections: list[Section], goals: list[Goal], facts: RunFacts) -> str:
    """Return the whole Markdown document."""
    parts = [_header(facts), _machine(facts), _method(), *(_section(section)
                                                          for section in sections)]
    parts.append(_goals(sections, goals))
    # The closing note reads the profiles of full runs, so a quick run leaves it out.
    if CLOSING_NOTE.exists() and not facts.quick:
        parts.append(CLOSING_NOTE.read_text(encoding="utf-8").strip() + "\n")
    return "\n".join(parts)


def write(path: Path, sections: list[Section], goals: list[Goal], facts: RunFacts) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(render(sections, goals, facts), encoding="utf-8")
    os.replace(temporary, path)


def format_number(value: float) -> str:
    """Format a figure with about three significant digits."""
    magnitude = abs(value)
    if magnitude >= 100 or value == int(value):
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _header(facts: RunFacts) -> str:
    kind = ("a quick smoke run (tiny sizes; not a measurement)" if facts.quick
            else "a full run")
    return (f"# Benchmarks\n\nWritten by `{facts.command}`, {kind}, from "
            f"{facts.started_at:%Y-%m-%d %H:%M} to {facts.finished_at:%H:%M} UTC "
            f"({facts.duration_seconds / 60:.1f} min). Every figure is the median of the runs "
            "shown, with their minimum and maximum; ratios are computed run by run. "
            "Rerun with `make bench`.\n")


def _machine(facts: RunFacts) -> str:
    rows = [*machine_facts(), ("load average at start (1, 5, 15 min)", facts.load_at_start),
            ("load average at end", facts.load_at_end)]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return ("## Machine\n\n| fact | value |\n|---|---|\n" + table + "\n\n"
            "One machine runs everything: the courier, redis-server, the sandbox and the "
            "benchmark process that writes drops and polls for results. They share its "
            "CPUs, so the figures are lower than the courier would reach with the sandbox "
            "and the load generator elsewhere.\n")


def _method() -> str:
    return ("## How it is measured\n\n" + PROCESS_COMMANDS + "\n"
            "Each run starts its own redis-server (AOF on, as `make run` does), worker and "
            "watcher on temporary folders and loopback ports, and stops them after the run. "
            "CPU time comes from the OS: utime + stime + cutime + cstime in /proc/<pid>/stat "
            "of every process in the tree of the watcher and of the worker (its prefork "
            "pool processes included), read before they are stopped; the naive script's "
            "from os.wait4. Courier CPU counts the watcher and the worker only; "
            "redis-server is shown apart, and the sandbox is counted nowhere. Beat is not "
            "started. Drops carry one 16 KiB PDF and one recipient given by user_id, "
            "unless a section says otherwise.\n")


def _section(section: Section) -> str:
    lines = [f"## {section.title}", "", section.setup, "",
             "| figure | unit | median | min | max | runs |", "|---|---|---|---|---|---|"]
    for row in section.rows:
        lines.append(_row(row))
    lines.extend(f"\n{note}" for note in section.notes)
    return "\n".join(lines) + "\n"


def _row(row: Row) -> str:
    if not row.values:
        return f"| {row.figure} | {row.unit} | not measured | | | 0 |"
    spread = row.spread
    return (f"| {row.figure} | {row.unit} | {format_number(spread.median)} | "
            f"{format_number(spread.minimum)} | {format_number(spread.maximum)} | "
            f"{spread.runs} |")


def _goals(sections: list[Section], goals: list[Goal]) -> str:
    rows = {row.key: row for section in sections for row in section.rows}
    lines = ["## Goals", "", "Judged on the median of the runs.", "",
             "| goal | figure (median) | result |", "|---|---|---|"]
    for goal in goals:
        row = rows.get(goal.key)
        if row is None or not row.values:
            lines.append(f"| {goal.text} | not measured | not judged |")
            continue
        value = row.spread.median
        verdict = "met" if goal.met(value) else "**missed**"
        lines.append(f"| {goal.text} | {format_number(value)} {row.unit} | {verdict} |")
    return "\n".join(lines) + "\n"
