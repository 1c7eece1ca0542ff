"""One courier run over drops already in the inbox: start, deliver all, account CPU, stop.

The workers start first and report ready. The clock and the CPU accounting start when
the watcher is launched and stop when every drop is in sent/. Courier CPU is that of the
watcher and of the worker with its pool processes. redis-server's CPU is reported apart,
and the sandbox's is not counted.
"""

import time
from dataclasses import dataclass
from pathlib import Path

from bench.drops import write_drops
from bench.measure import tree_cpu_seconds
from bench.stack import SandboxControl, Stack, count_sent, wait_until

# How often the run looks at sent/ to see whether every drop is delivered, s.
SENT_POLL_SECONDS = 0.25


@dataclass
class CourierRun:
    """Figures of one courier run; times in seconds, CPU in CPU seconds."""

    drops: int
    wall_seconds: float
    courier_cpu_seconds: float
    redis_cpu_seconds: float
    records: list[dict]
    stats: dict

    @property
    def drops_per_second(self) -> float:
        return self.drops / self.wall_seconds

    @property
    def cpu_seconds_per_drop(self) -> float:
        return self.courier_cpu_seconds / self.drops


def count_failed(root: Path) -> int:
    return sum(1 for _ in (root / "failed").iterdir())


def wait_for_delivery(root: Path, count: int, timeout_seconds: float) -> None:
    """Wait until `count` drops are in sent/; raise at once when any drop failed."""
    def done() -> bool:
        failed = count_failed(root)
        if failed:
            reasons = sorted(root.glob("failed/*/error.json"))[:1]
            detail = reasons[0].read_text(encoding="utf-8") if reasons else ""
            raise RuntimeError(f"дропов в failed/: {failed}; первый: {detail[:500]}")
        return count_sent(root) >= count

    wait_until(done, timeout_seconds, f"{count} drops in sent/", interval=SENT_POLL_SECONDS)


def run_courier(base: Path, sandbox: SandboxControl, label: str, count: int,
                concurrency: int, timeout_seconds: float, **settings) -> CourierRun:
    """Deliver `count` fresh drops through a fresh Redis, worker and watcher."""
    with Stack(base) as stack:
        stack.use_sandbox(sandbox)
        root = stack.make_folders()
        stack.start_redis()
        write_drops(root / "inbox", label, count)
        sandbox.reset()
        worker = stack.start_worker(concurrency, **settings)
        redis_pid = stack.redis_process.process.pid
        worker_before = tree_cpu_seconds([worker.process.pid])
        redis_before = tree_cpu_seconds([redis_pid])

        started = time.monotonic()
        watcher = stack.start_watcher(**settings)
        wait_for_delivery(root, count, timeout_seconds)
        wall_seconds = time.monotonic() - started

        courier_cpu = tree_cpu_seconds([worker.process.pid, watcher.process.pid])
        redis_cpu = tree_cpu_seconds([redis_pid]) - redis_before
        return CourierRun(count, wall_seconds, courier_cpu - worker_before, redis_cpu,
                          sandbox.received(), sandbox.stats())
