"""OS accounting of CPU time and memory from /proc, and the statistics the report prints.

CPU time of a process tree is the sum, over every live process in it, of utime + stime +
cutime + cstime (fields 14-17 of /proc/<pid>/stat). A child that exited and was waited
for by its parent (a Celery pool process replaced by the main process, say) is counted
once, in its parent's cutime and cstime. A live child is counted in its own fields.
"""

import os
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """Return the pids of every thread's direct children of `pid` (empty if it is gone)."""
    children = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return []
    for thread_id in threads:
        try:
            text = Path(f"/proc/{pid}/task/{thread_id}/children").read_text()
        except FileNotFoundError:
            continue
        children.extend(int(value) for value in text.split())
    return children


def tree_pids(pid: int) -> list[int]:
    """Return `pid` and all its live descendants."""
    found = [pid]
    for child in child_pids(pid):
        found.extend(tree_pids(child))
    return found


def process_cpu_seconds(pid: int) -> float:
    """Return utime + stime of `pid` plus those of its waited-for children, in seconds."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except FileNotFoundError:
        return 0.0
    ticks = sum(int(value) for value in fields[11:15])
    return ticks / CLOCK_TICKS_PER_SECOND


def tree_cpu_seconds(pids: list[int]) -> float:
    """Return the CPU seconds used so far by the trees rooted at `pids`."""
    return sum(process_cpu_seconds(member) for pid in pids for member in tree_pids(pid))


def memory_kib(pid: int) -> dict[str, int]:
    """Return VmRSS and VmHWM (peak RSS) of a live process, in KiB."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in values:
                    values[key] = int(rest.split()[0])
    except FileNotFoundError:
        pass
    return values


class RssSampler:
    """Samples the RSS of a set of processes in a thread and keeps the maximum, in KiB.

    VmHWM alone cannot show growth during one upload, because it also contains the peak
    from start-up, so the maximum VmRSS over the interval is sampled instead.
    """

    def __init__(self, pids: list[int], interval_seconds: float = 0.02):
        self.pids = pids
        self.interval_seconds = interval_seconds
        self.max_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self.pids:
                self.max_kib = max(self.max_kib, memory_kib(pid)["VmRSS"])
            time.sleep(self.interval_seconds)


@dataclass(frozen=True)
class Spread:
    """Median, minimum and maximum of one figure over several runs."""

    median: float
    minimum: float
    maximum: float
    runs: int


def spread(values: list[float]) -> Spread:
    """Summarise per-run values; raise ValueError when there are none."""
    if not values:
        raise ValueError("no runs to summarise")
    return Spread(statistics.median(values), min(values), max(values), len(values))


def percentile(values: list[float], share: float) -> float:
    """Return the `share` (0-1) percentile of `values` by linear interpolation."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = share * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def busiest_minute_counts(times: list[float], window_seconds: float = 60.0) -> list[int]:
    """Count events in each full sliding window that starts at an event.

    Only windows that end before the last event count as full. A run shorter than one
    window yields the single window from its first event.
    """
    ordered = sorted(times)
    counts = []
    end = 0
    for start_index, start in enumerate(ordered):
        if start + window_seconds > ordered[-1] and counts:
            break
        while end < len(ordered) and ordered[end] < start + window_seconds:
            end += 1
        counts.append(end - start_index)
    return counts
