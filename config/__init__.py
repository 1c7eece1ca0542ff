"""Settings shared by every courier process.

`load_settings()` is the only way processes read them: it validates once, caches, and
turns a bad value into `SettingsError` whose message is one Russian sentence.
"""

from functools import lru_cache
from typing import NoReturn

from pydantic import ValidationError

from config.errors import SettingsError, describe_validation_error, missing_setting
from config.settings import EMBEDDED_REDIS_URL, SendMode, Settings, WatcherMode

__all__ = [
    "EMBEDDED_REDIS_URL",
    "SendMode",
    "Settings",
    "SettingsError",
    "WatcherMode",
    "load_settings",
    "missing_setting",
    "exit_on_settings_error",
]


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    """Read and validate the settings once per process."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None


def exit_on_settings_error(error: SettingsError) -> NoReturn:
    """Print the sentence to stderr and stop the process with exit code 78 (EX_CONFIG)."""
    import sys

    print(f"Ошибка настройки: {error}", file=sys.stderr)
    raise SystemExit(78)
