"""The benchmark harness keeps working: `python -m bench --quick` writes every section.

No thresholds: the figures of a quick run on a shared machine mean nothing; this only
checks that each scenario ran and produced numbers.
"""

import re
import subprocess
import sys

from tests.processes import PROJECT_ROOT

SECTIONS = (
    "## Machine",
    "## How it is measured",
    "## 1. Budget use at the default limits",
    "## 2. Throughput with the limit lifted",
    "## 3. Baseline: a naive script on the same drops and sandbox",
    "## 4. Ingest of a backlog",
    "## 5. Latency of one drop at idle",
    "## 6. Memory",
    "## Goals",
)
NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?$")


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    """Return the cells of the figure rows of the table under `heading`."""
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] not in ("figure", "---"):
            rows.append(cells)
    return rows


def test_quick_bench_writes_every_section(tmp_path):
    output = tmp_path / "BENCHMARKS.md"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=240)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]

    markdown = output.read_text(encoding="utf-8")
    for heading in SECTIONS:
        assert heading in markdown, f"missing section {heading!r}"
    for heading in SECTIONS[2:8]:
        rows = table_rows(markdown, heading)
        assert rows, f"no figures under {heading!r}"
        for cells in rows:
            median, minimum, maximum = cells[2:5]
            assert NUMBER.match(median), f"{heading}: {cells[0]} median is {median!r}"
            assert NUMBER.match(minimum), f"{heading}: {cells[0]} min is {minimum!r}"
            assert NUMBER.match(maximum), f"{heading}: {cells[0]} max is {maximum!r}"
