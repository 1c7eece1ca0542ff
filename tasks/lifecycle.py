"""Process start-up hooks: logging and Sentry for every Celery process, checks for workers."""

from celery.signals import beat_init, celeryd_init, setup_logging

from config import SettingsError, exit_on_settings_error, load_settings
from config.logs import configure_logging
from config.sentry import init_sentry
from tasks.runtime import require_connect_credentials


@setup_logging.connect
def _configure_logging(**_kwargs) -> None:
    """Replace Celery's logging setup with the courier's own."""
    settings = load_settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)


@celeryd_init.connect
def _start_worker(**_kwargs) -> None:
    """Stop a worker at start when it could not deliver anything; start Sentry before fork."""
    settings = load_settings()
    try:
        require_connect_credentials(settings)
    except SettingsError as error:
        exit_on_settings_error(error)
    init_sentry(settings, "worker")


@beat_init.connect
def _start_beat(**_kwargs) -> None:
    init_sentry(load_settings(), "beat")
