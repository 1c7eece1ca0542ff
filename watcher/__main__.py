"""`python -m watcher`: watch the inbox and queue complete drops for delivery."""

import logging

import redis

from config import SettingsError, exit_on_settings_error, load_settings
from config.logs import configure_logging


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as error:
        exit_on_settings_error(error)
    configure_logging(settings.LOG_LEVEL)

    from tasks.application import app
    from watcher.service import Watcher

    watcher = Watcher(settings, app, redis.Redis.from_url(settings.REDIS_URL))
    watcher.install_signal_handlers()
    logging.getLogger("watcher").info(
        "Наблюдатель запущен: inbox %s, режим %s, опрос каждые %.1f с, ожидание стабильности %.1f с.",
        watcher.folders.inbox, "опрос" if watcher.polling else "события",
        settings.WATCHER_POLL_SECONDS, settings.WATCHER_SETTLE_SECONDS)
    watcher.run()


if __name__ == "__main__":
    main()
