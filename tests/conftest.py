"""Shared fixtures: a real redis-server, the 1C-Connect sandbox, and the courier's processes.

Nothing here is mocked: the tests talk to redis-server over TCP, to the sandbox over
HTTP, and run the worker and watcher as the same commands an admin runs.
"""

import os
from pathlib import Path

import pytest
import redis

from delivery.sandbox import SandboxConfig, SandboxServer
from tests.processes import (
    celery_worker,
    free_port,
    start_redis,
    wait_for,
    watcher_process,
)

DEMO = SandboxConfig.demo()
LINE_ID = DEMO.lines[0]["line_id"]
AUTHOR_ID = DEMO.specialists[0]["user_id"]
SUBSCRIBERS = DEMO.subscribers


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """One redis-server for the whole run; each test flushes it."""
    port = free_port()
    process = start_redis(tmp_path_factory.mktemp("redis"), port)
    yield f"redis://127.0.0.1:{port}/0"
    process.stop()


@pytest.fixture
def redis_url(redis_server):
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server


@pytest.fixture
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def sandbox(tmp_path):
    """The 1C-Connect sandbox with the demo line and subscribers, on a free port."""
    config = SandboxConfig.demo()
    config.port = 0
    config.rate_per_second = 0
    config.rate_per_minute = 0
    server = SandboxServer(config).start()
    yield server
    server.stop()


@pytest.fixture
def courier_root(tmp_path) -> Path:
    root = tmp_path / "courier"
    for name in ("inbox", "work", "sent", "failed", "status", "feedback"):
        (root / name).mkdir(parents=True)
    return root


@pytest.fixture
def courier_env(redis_url, sandbox, courier_root) -> dict:
    """Environment for courier processes pointed at this test's Redis, sandbox and folders."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CONNECT_", "WATCHER_", "COURIER_", "SENTRY_"))}
    env.update({
        "COURIER_ROOT": str(courier_root),
        "REDIS_URL": redis_url,
        "CONNECT_BASE_URL": sandbox.url,
        "CONNECT_LOGIN": DEMO.login,
        "CONNECT_PASSWORD": DEMO.password,
        "CONNECT_LINE_ID": LINE_ID,
        "CONNECT_AUTHOR_ID": AUTHOR_ID,
        "WATCHER_POLL_SECONDS": "0.2",
        "WATCHER_SETTLE_SECONDS": "0.5",
        "WATCHER_MODE": "events",
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture
def worker(courier_env, tmp_path):
    process = celery_worker(courier_env, tmp_path / "worker.log").start()
    process.wait_for_output("ready.", timeout=60)
    yield process
    process.stop()


@pytest.fixture
def watcher(courier_env, tmp_path, redis_client):
    process = watcher_process(courier_env, tmp_path / "watcher.log").start()
    wait_for(lambda: process.alive() and redis_client.keys("courier:watcher:heartbeat:*"),
             timeout=30, message="the watcher's first heartbeat")
    yield process
    process.stop()


# --- Fault tests: fast timing, several workers, figures in the run's summary ---

FAULT_FIGURES: list[str] = []


@pytest.fixture
def fast_env(courier_env) -> dict:
    """courier_env with the FAST timing profile: short backoff, 30 s visibility timeout."""
    return {**courier_env, "COURIER_TEST_TIMING": "fast"}


@pytest.fixture
def record_figures():
    """Collect a fault test's figures line for the summary at the end of the run."""
    def record(figures) -> None:
        line = figures.line()
        print(f"\nFIGURES {line}")
        FAULT_FIGURES.append(line)
    return record


def pytest_terminal_summary(terminalreporter):
    if FAULT_FIGURES:
        terminalreporter.section("fault test figures")
        for line in FAULT_FIGURES:
            terminalreporter.write_line(line)


def heartbeat_key_of(process) -> str:
    """The Redis key a watcher process writes its heartbeat to (host:pid)."""
    import socket

    return f"courier:watcher:heartbeat:{socket.gethostname()}:{process.process.pid}"


@pytest.fixture
def start_watcher(courier_env, tmp_path, redis_client):
    """Start watcher processes with extra environment; stop them all after the test.

    `start(name, wait=True, **env)` returns the process once its first heartbeat is in
    Redis, or at once with wait=False (for a watcher expected to refuse to start).
    """
    started = []

    def start(name: str = "watcher", wait: bool = True, **overrides):
        env = {**courier_env, **{key: str(value) for key, value in overrides.items()}}
        process = watcher_process(env, tmp_path / f"{name}.log").start()
        started.append(process)
        if wait:
            wait_for(lambda: process.alive() and redis_client.exists(heartbeat_key_of(process)),
                     timeout=30, message=f"{name}'s first heartbeat")
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def start_worker(courier_env, tmp_path):
    """Start Celery workers with extra environment; stop them all after the test."""
    started = []

    def start(name: str = "worker", concurrency: int = 2, **overrides):
        env = {**courier_env, **{key: str(value) for key, value in overrides.items()}}
        process = celery_worker(env, tmp_path / f"{name}.log", concurrency=concurrency,
                                hostname=name).start()
        started.append(process)
        process.wait_for_output("ready.", timeout=60)
        return process

    yield start
    for process in started:
        process.stop()
