"""Run the naive script (bench/naive.py) over the same drops and sandbox as the courier.

Its CPU time comes from os.wait4, which returns the rusage of the script's process.
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.drops import write_drops
from bench.stack import DEMO, LINE_ID, SandboxControl
from tests.processes import PROJECT_ROOT

NAIVE_SCRIPT = Path(__file__).with_name("naive.py")


@dataclass
class NaiveRun:
    """Figures of one naive run; times in seconds, CPU in CPU seconds."""

    drops: int
    wall_seconds: float
    cpu_seconds: float

    @property
    def drops_per_second(self) -> float:
        return self.drops / self.wall_seconds

    @property
    def cpu_seconds_per_drop(self) -> float:
        return self.cpu_seconds / self.drops


def naive_command(inbox: Path, done: Path, sandbox_url: str) -> list[str]:
    return [sys.executable, str(NAIVE_SCRIPT), str(inbox), str(done), sandbox_url,
            DEMO.login, DEMO.password, LINE_ID]


def run_naive(base: Path, sandbox: SandboxControl, label: str, count: int,
              timeout_seconds: float) -> NaiveRun:
    """Write `count` drops, run the script to its end, and check every drop was received."""
    inbox = base / "inbox"
    inbox.mkdir(parents=True)
    write_drops(inbox, label, count)
    sandbox.reset()

    log = open(base / "naive.log", "wb")
    started = time.monotonic()
    process = subprocess.Popen(naive_command(inbox, base / "done", sandbox.url),
                               cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        _, status, usage = _wait4_with_timeout(process.pid, timeout_seconds)
    except BaseException:
        # Ctrl-C or an error in this process: the script must not outlive the benchmark.
        _kill_quietly(process.pid)
        raise
    wall_seconds = time.monotonic() - started

    received = sandbox.stats()["received"]
    if os.waitstatus_to_exitcode(status) != 0 or received != count:
        raise RuntimeError(f"наивный скрипт завершился с кодом "
                           f"{os.waitstatus_to_exitcode(status)}, песочница получила "
                           f"{received} из {count}; журнал: {base / 'naive.log'}")
    return NaiveRun(count, wall_seconds, usage.ru_utime + usage.ru_stime)


def _wait4_with_timeout(pid: int, timeout_seconds: float):
    """Wait for `pid` with os.wait4, polling, so a hung script is killed after the timeout."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        waited, status, usage = os.wait4(pid, os.WNOHANG)
        if waited == pid:
            return waited, status, usage
        time.sleep(0.05)
    _kill_quietly(pid)
    raise TimeoutError(f"наивный скрипт не закончил за {timeout_seconds:.0f} с")


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
