"""Start-up common to every courier process: settings, logging, Sentry."""

from config import SettingsError, exit_on_settings_error, load_settings
from config.logs import configure_logging
from config.sentry import init_sentry
from config.settings import Settings


def start_process(component: str) -> Settings:
    """Load the settings (or exit 78 with a Russian sentence), set up logging and Sentry."""
    try:
        settings = load_settings()
    except SettingsError as error:
        exit_on_settings_error(error)
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    init_sentry(settings, component)
    return settings
