"""`python -m launcher` (what `make run` calls): prepare the environment, then run honcho.

It starts a private Redis when REDIS_URL is not set, and the 1C-Connect sandbox instead
of the real service when CONNECT_LOGIN is not set. It generates a Flower password when
FLOWER_BASIC_AUTH is not set. Then it runs the Procfile's processes under honcho until
Ctrl-C and stops Redis last, so in-flight tasks can be acked or requeued first.
"""

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from dotenv import dotenv_values

from delivery.sandbox import SandboxConfig
from launcher.embedded_redis import start_embedded_redis, stop_embedded_redis

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR = PROJECT_ROOT / "var"
SANDBOX_LISTEN = "127.0.0.1:8086"
FLOWER_URL = "http://127.0.0.1:5555"


def setting(name: str) -> str | None:
    """Read a setting the way the courier does: environment first, then .env."""
    value = os.environ.get(name)
    if value is None:
        value = dotenv_values(PROJECT_ROOT / ".env").get(name)
    return value or None


def use_sandbox(env: dict) -> None:
    """Point the courier at the local sandbox and print a banner that clients get nothing."""
    demo = SandboxConfig.demo()
    env.update({
        "CONNECT_BASE_URL": f"http://{SANDBOX_LISTEN}",
        "CONNECT_LOGIN": demo.login,
        "CONNECT_PASSWORD": demo.password,
        "CONNECT_LINE_ID": demo.lines[0]["line_id"],
        "CONNECT_AUTHOR_ID": demo.specialists[0]["user_id"],
        "COURIER_SANDBOX_LISTEN": SANDBOX_LISTEN,
    })
    print("=" * 78)
    print("  ВНИМАНИЕ: CONNECT_LOGIN не задан, поэтому запущена ПЕСОЧНИЦА 1С-Коннект")
    print(f"  на http://{SANDBOX_LISTEN}. Документы уходят в песочницу, а НЕ клиентам.")
    print("  Чтобы отправлять по-настоящему, задайте CONNECT_LOGIN, CONNECT_PASSWORD и")
    print("  CONNECT_LINE_ID в файле .env (см. .env.example) и перезапустите make run.")
    print("=" * 78)


def flower_credentials(env: dict) -> None:
    """Generate Flower's basic-auth password once per run when none is configured."""
    if setting("FLOWER_BASIC_AUTH"):
        print(f"Flower: {FLOWER_URL} (логин и пароль из FLOWER_BASIC_AUTH).")
        return
    password = secrets.token_urlsafe(12)
    env["FLOWER_BASIC_AUTH"] = f"admin:{password}"
    print(f"Flower: {FLOWER_URL}  логин admin, пароль {password} (создан для этого запуска; "
          "задайте FLOWER_BASIC_AUTH в .env, чтобы он не менялся).")


def feedback_settings(env: dict) -> None:
    """With the sandbox, wire the feedback receiver to it with a one-run token."""
    if not env.get("COURIER_SANDBOX_LISTEN") or env.get("FEEDBACK_TOKEN"):
        return
    listen = env.get("FEEDBACK_LISTEN") or "127.0.0.1:8085"
    env["FEEDBACK_TOKEN"] = secrets.token_urlsafe(24)
    env["FEEDBACK_PUBLIC_URL"] = f"http://{listen}/connect/events/"
    print(f"Приёмник ответов клиентов: http://{listen}/connect/events/ (хук зарегистрирован "
          "в песочнице; ответ клиента можно сымитировать через /_sandbox/emit).")


def choose_processes(env: dict) -> list[str]:
    processes = ["worker", "beat", "watcher", "flower"]
    if env.get("COURIER_SANDBOX_LISTEN"):
        processes.insert(0, "sandbox")
    if env.get("FEEDBACK_TOKEN"):
        processes.append("feedback")
    return processes


def run_honcho(env: dict, processes: list[str]) -> int:
    """Run honcho until it exits; Ctrl-C reaches it directly, SIGTERM is passed on to it."""
    honcho = Path(sys.executable).with_name("honcho")
    command = [str(honcho), "-f", str(PROJECT_ROOT / "Procfile"), "-d", str(PROJECT_ROOT),
               "-e", os.devnull, "start", *processes]
    child = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT)

    def pass_on(signum, _frame):
        child.send_signal(signum)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, pass_on)
    return child.wait()


def main() -> int:
    env = dict(os.environ)
    env.update({key: value for key, value in dotenv_values(PROJECT_ROOT / ".env").items()
                if value is not None and key not in os.environ})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONUNBUFFERED", "1")
    root = Path(env.get("COURIER_ROOT") or VAR / "courier")
    env["COURIER_ROOT"] = str(root)
    for name in ("inbox", "work", "sent", "failed", "status", "feedback"):
        (root / name).mkdir(parents=True, exist_ok=True)

    redis_process = None
    if not env.get("REDIS_URL"):
        redis_process = start_embedded_redis(VAR / "redis")
        print("Redis: встроенный сервер 127.0.0.1:6390, данные и AOF в var/redis/.")
    if not env.get("CONNECT_LOGIN"):
        use_sandbox(env)
    flower_credentials(env)
    feedback_settings(env)
    print(f"Кладите документы в {root / 'inbox'}; статусы появятся в {root / 'status'}.")
    print("Остановка: Ctrl-C.")

    try:
        return run_honcho(env, choose_processes(env))
    finally:
        if redis_process is not None:
            stop_embedded_redis(redis_process)
            print("Redis остановлен.")


if __name__ == "__main__":
    sys.exit(main())
