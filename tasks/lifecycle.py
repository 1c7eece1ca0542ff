"""Process start-up hooks: logging for every Celery process, credential check for workers."""

from celery.signals import celeryd_init, setup_logging

from config import SettingsError, exit_on_settings_error, load_settings
from config.logs import configure_logging
from tasks.runtime import require_connect_credentials


@setup_logging.connect
def _configure_logging(**_kwargs) -> None:
    """Replace Celery's logging setup with the courier's own."""
    configure_logging(load_settings().LOG_LEVEL)


@celeryd_init.connect
def _check_worker_settings(**_kwargs) -> None:
    """Stop a worker at start when it could not deliver anything."""
    try:
        require_connect_credentials(load_settings())
    except SettingsError as error:
        exit_on_settings_error(error)
