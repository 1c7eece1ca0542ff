"""`python -m feedback`: run the 1C-Connect webhook receiver on FEEDBACK_LISTEN.

Start-up: read the settings, refuse to start without FEEDBACK_TOKEN, listen, and, when
FEEDBACK_PUBLIC_URL is set, register the line hook through the API. SIGTERM and SIGINT
stop intake first, then close open connections, the task queue and Redis.
"""

import asyncio
import logging
import signal
import urllib.parse

import redis.asyncio

from config import Settings, SettingsError, exit_on_settings_error, missing_setting
from config.process import start_process
from feedback.hooks import EVENTS_PATH, HookError, register_from_settings
from feedback.server import CeleryQueue, Receiver, start_server

log = logging.getLogger("feedback")

SECONDS_PER_DAY = 86400
# A shorter token is accepted with a warning, since it is easier to guess, in characters.
MIN_TOKEN_CHARS = 16


def main() -> None:
    settings = start_process("feedback")

    token = settings.FEEDBACK_TOKEN.get_secret_value() if settings.FEEDBACK_TOKEN else ""
    if not token.strip():
        exit_on_settings_error(missing_setting(
            "FEEDBACK_TOKEN", "секрет, который 1С-Коннект предъявляет приёмнику событий"))
    if len(token) < MIN_TOKEN_CHARS:
        log.warning("FEEDBACK_TOKEN короче %d символов: такой токен легче подобрать; "
                    "задайте длинный случайный токен.", MIN_TOKEN_CHARS)
    asyncio.run(serve(settings, token))


async def serve(settings: Settings, token: str) -> None:
    """Run the receiver until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    receiver = build_receiver(settings, token)
    host, port = split_listen(settings.FEEDBACK_LISTEN)
    server = start_server(receiver, host, port)
    log.info("Приёмник событий 1С-Коннект слушает http://%s:%d%s.", host, port, EVENTS_PATH)
    if settings.FEEDBACK_PUBLIC_URL:
        loop.run_in_executor(None, register_hook_at_start, settings)

    await stop.wait()
    log.info("Приёмник останавливается: новые соединения не принимаются.")
    server.stop()
    await server.close_all_connections()
    await receiver.close()
    log.info("Приёмник событий остановлен.")


def build_receiver(settings: Settings, token: str) -> Receiver:
    from tasks.application import app  # imported here: it builds the Celery app on import

    return Receiver(
        token=token,
        redis_client=redis.asyncio.Redis.from_url(settings.REDIS_URL),
        queue=CeleryQueue(app),
        dedup_ttl_seconds=settings.FEEDBACK_WINDOW_DAYS * SECONDS_PER_DAY,
    )


def register_hook_at_start(settings: Settings) -> None:
    """Register the line hook once and log the result; a failure leaves the receiver up."""
    try:
        url = register_from_settings(settings)
    except (SettingsError, HookError) as error:
        log.error("Хук line не зарегистрирован: %s Приёмник работает; зарегистрируйте хук "
                  "командой celery -A tasks courier hook register.", error)
        return
    except Exception:  # noqa: BLE001  (top of a background thread: log, never lose it)
        log.exception("Хук line не зарегистрирован из-за непредвиденной ошибки; приёмник "
                      "работает, зарегистрируйте хук командой celery -A tasks courier hook "
                      "register.")
        return

    scope = f"линии {settings.CONNECT_LINE_ID}" if settings.CONNECT_LINE_ID else "всех линий"
    log.info("Хук line для %s зарегистрирован в 1С-Коннект: события придут на %s.", scope, url)
    if urllib.parse.urlsplit(url).scheme != "https" and not _is_loopback(url):
        log.warning("FEEDBACK_PUBLIC_URL начинается с http://: 1С-Коннект передаст токен "
                    "без шифрования; опубликуйте приёмник через https.")


def split_listen(listen: str) -> tuple[str, int]:
    """Split FEEDBACK_LISTEN such as 127.0.0.1:8085 or [::1]:8085 into host and port."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1")


if __name__ == "__main__":
    main()
