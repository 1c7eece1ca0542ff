"""`python -m watcher`: watch the inbox and queue complete drops for delivery.

Before the loop starts, watcher.mountcheck checks COURIER_ROOT; a file system that mangles
Cyrillic names, or an inbox on another mount than work/, stops the process with exit
code 78 and one Russian sentence. `celery -A tasks courier health` reads the heartbeat
the loop writes (watcher.heartbeat).
"""

import logging

import redis

from config import SettingsError, exit_on_settings_error
from config.process import start_process


def main() -> None:
    settings = start_process("watcher")

    from tasks.application import app
    from watcher.mountcheck import check_courier_root
    from watcher.service import Watcher

    watcher = Watcher(settings, app, redis.Redis.from_url(settings.REDIS_URL))
    watcher.prepare_folders()
    try:
        check_courier_root(watcher.folders)
    except SettingsError as error:
        exit_on_settings_error(error)

    watcher.install_signal_handlers()
    logging.getLogger("watcher").info(
        "Наблюдатель запущен: inbox %s, режим %s (файловая система %s), опрос каждые %.1f с, "
        "ожидание стабильности %.1f с.", watcher.folders.inbox,
        "опрос" if watcher.polling else "события", watcher.mount_type or "неизвестна",
        settings.WATCHER_POLL_SECONDS, settings.WATCHER_SETTLE_SECONDS)
    watcher.run()


if __name__ == "__main__":
    main()
