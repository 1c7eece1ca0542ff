"""Start and stop the processes a scenario needs: redis-server, sandbox, workers, watcher.

Each process is a subprocess in its own session with its output in a log file under the
scenario's folder, started the way an admin starts it (Procfile command lines). Only
loopback addresses are used. `Stack` stops everything it started, in reverse order, when
its `with` block ends, on an exception or Ctrl-C included.
"""

import json
import os
import socket
import sys
from pathlib import Path

import redis
import requests

from delivery.sandbox import SandboxConfig
from tests.processes import ManagedProcess, free_port, start_redis, wait_for

DEMO = SandboxConfig.demo()
LINE_ID = DEMO.lines[0]["line_id"]
AUTHOR_ID = DEMO.specialists[0]["user_id"]
SUBSCRIBER_IDS = [subscriber["user_id"] for subscriber in DEMO.subscribers]
COURIER_FOLDERS = ("inbox", "work", "sent", "failed", "status", "feedback")
# Limits high enough that the courier's own limiter never makes a worker wait.
LIFTED_RATE_PER_SECOND = 1_000_000
LIFTED_RATE_PER_MINUTE = 60_000_000


class SandboxControl:
    """Client of the sandbox's /_sandbox/ control API (records, counts, reset)."""

    def __init__(self, url: str):
        self.url = url
        self.session = requests.Session()

    def received(self, since: int = 0) -> list[dict]:
        response = self.session.get(f"{self.url}/_sandbox/received/", params={"since": since},
                                    timeout=30)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict:
        response = self.session.get(f"{self.url}/_sandbox/stats/", timeout=10)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self.session.post(f"{self.url}/_sandbox/reset/", timeout=10).raise_for_status()

    def close(self) -> None:
        self.session.close()


class Stack:
    """The processes of one scenario run, stopped together when the `with` block ends."""

    def __init__(self, base: Path):
        self.base = base
        self.base.mkdir(parents=True, exist_ok=True)
        self.root = base / "courier"
        self.started: list[ManagedProcess] = []
        self.redis_url: str | None = None
        self.redis_process: ManagedProcess | None = None
        self.sandbox_url: str | None = None
        self.sandbox: SandboxControl | None = None

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop_all()

    def make_folders(self) -> Path:
        for name in COURIER_FOLDERS:
            (self.root / name).mkdir(parents=True, exist_ok=True)
        return self.root

    def start_redis(self) -> redis.Redis:
        """Start a private redis-server with AOF on, as `make run` does; return a client."""
        port = free_port()
        self.redis_process = start_redis(self.base / "redis", port)
        self.started.append(self.redis_process)
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        return redis.Redis.from_url(self.redis_url)

    def start_sandbox(self, latency_ms: int, rate_per_second: int, rate_per_minute: int,
                      max_file_mb: int = 100) -> SandboxControl:
        """Start `python -m delivery.sandbox` on a free loopback port; 0 turns a limit off."""
        port = free_port()
        command = [sys.executable, "-m", "delivery.sandbox", "--listen", f"127.0.0.1:{port}",
                   "--latency-ms", str(latency_ms), "--rate-per-second", str(rate_per_second),
                   "--rate-per-minute", str(rate_per_minute), "--max-file-mb", str(max_file_mb),
                   "--log-level", "WARNING"]
        process = self._start("sandbox", command, dict(os.environ))
        process.wait_for_output("слушает", timeout=60)
        self.sandbox_url = f"http://127.0.0.1:{port}"
        self.sandbox = SandboxControl(self.sandbox_url)
        return self.sandbox

    def use_sandbox(self, sandbox: SandboxControl) -> None:
        """Point this stack's courier processes at a sandbox another stack started."""
        self.sandbox_url = sandbox.url

    def courier_env(self, **overrides) -> dict:
        """Return the environment of courier processes: this stack's Redis, sandbox, folders."""
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("CONNECT_", "WATCHER_", "COURIER_", "SENTRY_"))}
        env.update({"COURIER_ROOT": str(self.root), "REDIS_URL": self.redis_url,
                    "PYTHONUNBUFFERED": "1"})
        if self.sandbox_url is not None:
            env.update({
                "CONNECT_BASE_URL": self.sandbox_url,
                "CONNECT_LOGIN": DEMO.login,
                "CONNECT_PASSWORD": DEMO.password,
                "CONNECT_LINE_ID": LINE_ID,
                "CONNECT_AUTHOR_ID": AUTHOR_ID,
            })
        env.update({key: str(value) for key, value in overrides.items()})
        return env

    def start_worker(self, concurrency: int, name: str = "worker",
                     **overrides) -> ManagedProcess:
        """Start the Procfile's worker command with `concurrency` pool processes."""
        command = [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--loglevel",
                   "INFO", "--concurrency", str(concurrency), "--hostname",
                   f"bench-{name}@%h"]
        process = self._start(name, command, self.courier_env(**overrides))
        process.wait_for_output("ready.", timeout=120)
        return process

    def start_watcher(self, **overrides) -> ManagedProcess:
        """Start `python -m watcher`; it returns at once, before the first scan."""
        return self._start("watcher", [sys.executable, "-m", "watcher"],
                           self.courier_env(**overrides))

    def watcher_heartbeat(self, client: redis.Redis, process: ManagedProcess) -> dict:
        """Return the watcher's last heartbeat, or an empty dict before the first one."""
        raw = client.get(f"courier:watcher:heartbeat:{socket.gethostname()}:"
                         f"{process.process.pid}")
        return json.loads(raw) if raw else {}

    def stop(self, process: ManagedProcess) -> None:
        process.stop(timeout=60)
        if process in self.started:
            self.started.remove(process)

    def stop_all(self) -> None:
        """Stop every process started here, newest first; also after an exception."""
        if self.sandbox is not None:
            self.sandbox.close()
        while self.started:
            process = self.started.pop()
            try:
                process.stop(timeout=60)
            except Exception as error:  # noqa: BLE001 - keep stopping the others
                print(f"Не удалось остановить {process.name}: {error}", file=sys.stderr)

    def _start(self, name: str, command: list[str], env: dict) -> ManagedProcess:
        log_path = self.base / f"{name}.log"
        process = ManagedProcess(name, command, env, log_path).start()
        self.started.append(process)
        return process


def wait_until(condition, timeout_seconds: float, message: str, interval: float = 0.2):
    """Poll `condition` until it is truthy; raise TimeoutError naming `message` after the timeout."""
    return wait_for(condition, timeout_seconds, interval=interval, message=message)


def count_sent(root: Path) -> int:
    """Return how many drops are in sent/<day>/ folders."""
    total = 0
    sent = root / "sent"
    for day in os.scandir(sent):
        if day.is_dir():
            total += sum(1 for _ in os.scandir(day.path))
    return total
