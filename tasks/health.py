"""Health checks for monitoring and container health probes: each returns one CheckResult."""

import os
import secrets
from dataclasses import dataclass

import redis
from celery import Celery

from config import Settings
from delivery.client import ConnectClient
from delivery.errors import DeliveryError, RecipientRejectedError
from delivery.folders import CourierFolders
from watcher.heartbeat import read_heartbeats

# A watcher heartbeat older than this means the watcher is stuck or gone, s.
HEARTBEAT_MAX_AGE_SECONDS = 60
WORKER_PING_TIMEOUT_SECONDS = 3.0
LABELS = {"workers": "Воркеры Celery", "watcher": "Наблюдатель"}


@dataclass
class CheckResult:
    """One line of the health table."""

    name: str
    ok: bool
    detail: str


def check_redis(redis_client: redis.Redis) -> CheckResult:
    try:
        redis_client.ping()
    except redis.RedisError as error:
        return CheckResult("Redis", False, f"нет ответа: {error}")
    policy = redis_client.config_get("maxmemory-policy").get("maxmemory-policy", "?")
    aof = redis_client.config_get("appendonly").get("appendonly", "?")
    ok = policy == "noeviction"
    detail = f"отвечает; AOF {aof}, maxmemory-policy {policy}"
    if not ok:
        detail += " (нужно noeviction, иначе Redis может стереть задачи и журнал доставок)"
    return CheckResult("Redis", ok, detail)


def check_workers(app: Celery) -> CheckResult:
    replies = app.control.ping(timeout=WORKER_PING_TIMEOUT_SECONDS) or []
    names = sorted(name for reply in replies for name in reply)
    if not names:
        return CheckResult(LABELS["workers"], False, "ни один воркер не ответил на ping")
    return CheckResult(LABELS["workers"], True, f"на связи: {', '.join(names)}")


def check_watcher(redis_client: redis.Redis, now: float | None = None) -> CheckResult:
    """Pass when at least one watcher scanned its inbox within HEARTBEAT_MAX_AGE_SECONDS."""
    beats = read_heartbeats(redis_client, now)
    if not beats:
        return CheckResult(LABELS["watcher"], False,
                           "нет пульса в Redis: python -m watcher не запущен")
    healthy = [beat for beat in beats if beat.is_healthy(HEARTBEAT_MAX_AGE_SECONDS)]
    freshest = min(beats, key=lambda beat: beat.age_seconds)
    scanned = ("ещё не сканировал" if freshest.last_scan_age_seconds is None
               else f"последний скан {freshest.last_scan_age_seconds:.0f} с назад")
    detail = (f"{scanned}, ожидают {freshest.pending}, режим {freshest.mode}, "
              f"живых процессов {len(healthy)} из {len(beats)}")
    if not freshest.inbox_available:
        detail += "; папка inbox недоступна"
    return CheckResult(LABELS["watcher"], bool(healthy), detail)


def check_inbox(folders: CourierFolders) -> CheckResult:
    probe = folders.inbox / f".health-{secrets.token_hex(4)}.tmp"
    try:
        probe.write_bytes(b"ok")
        readable = probe.read_bytes() == b"ok"
        probe.unlink()
        os.listdir(folders.inbox)
    except OSError as error:
        return CheckResult("Папка inbox", False, f"{folders.inbox}: {error}")
    return CheckResult("Папка inbox", readable, f"{folders.inbox}: чтение и запись работают")


def check_connect(settings: Settings) -> CheckResult:
    """Check the API account, the default line and the author with read-only calls."""
    if not settings.has_connect_credentials:
        return CheckResult("1С-Коннект", False, "не заданы CONNECT_LOGIN и CONNECT_PASSWORD")
    client = ConnectClient(settings.CONNECT_BASE_URL, settings.CONNECT_LOGIN,
                           settings.CONNECT_PASSWORD.get_secret_value(), timeout=(5.0, 15.0))
    try:
        lines = client.list_lines()
    except DeliveryError as error:
        return CheckResult("1С-Коннект", False, error.message)
    line_ids = {line.get("line_id") for line in lines}
    if settings.CONNECT_LINE_ID and settings.CONNECT_LINE_ID not in line_ids:
        return CheckResult("1С-Коннект", False, f"линия {settings.CONNECT_LINE_ID} не найдена "
                           "среди линий пользователя API; проверьте CONNECT_LINE_ID")
    if settings.CONNECT_AUTHOR_ID:
        try:
            client.get_specialist(settings.CONNECT_AUTHOR_ID)
        except RecipientRejectedError:
            return CheckResult("1С-Коннект", False, f"специалист {settings.CONNECT_AUTHOR_ID} "
                               "не найден; проверьте CONNECT_AUTHOR_ID")
        except DeliveryError as error:
            return CheckResult("1С-Коннект", False, error.message)
    return CheckResult("1С-Коннект", True, f"вход выполнен, линий доступно: {len(lines)}")


CHECK_NAMES = ("redis", "workers", "watcher", "inbox", "connect")


def run_health_checks(app: Celery, settings: Settings,
                      only: tuple[str, ...] = CHECK_NAMES) -> list[CheckResult]:
    """Run the checks named in `only`, in a fixed order; a failing one never stops the rest."""
    redis_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5,
                                        socket_connect_timeout=5)
    results = []
    redis_up = True
    if "redis" in only or {"workers", "watcher"} & set(only):
        redis_result = check_redis(redis_client)
        redis_up = "нет ответа" not in redis_result.detail
        if "redis" in only:
            results.append(redis_result)
    for name, check in (("workers", lambda: check_workers(app)),
                        ("watcher", lambda: check_watcher(redis_client))):
        if name in only:
            results.append(check() if redis_up else
                           CheckResult(LABELS[name], False, "не проверено: Redis недоступен"))
    if "inbox" in only:
        results.append(check_inbox(CourierFolders(settings.COURIER_ROOT)))
    if "connect" in only:
        results.append(check_connect(settings))
    return results

