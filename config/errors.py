"""Turn a settings validation failure into one Russian sentence an admin can act on."""

import re

from pydantic import ValidationError

# Expected form of each kind of value, in the words of the fix.
_EXPECTED = {
    "int_parsing": "целое число",
    "float_parsing": "число",
    "greater_than": "число больше нуля",
    "greater_than_equal": "неотрицательное число",
    "enum": "одно из значений: {expected}",
    "url_scheme": "адрес, начинающийся с http:// или https://",
    "redis_scheme": "адрес вида redis://хост:порт/номер_базы",
    "host_port": "пара «хост:порт», например 127.0.0.1:8085",
    "log_level": "одно из значений: DEBUG, INFO, WARNING, ERROR",
    "log_format": "text или json",
    "uuid": "UUID вида 8d1e5a2c-0b4f-4c7e-9a57-0c2f7e1d8b21",
}


class SettingsError(Exception):
    """A setting is missing or invalid; the message is the Russian sentence to show."""


def _expected_for(error: dict) -> str:
    kind = error.get("type", "")
    text = str(error.get("msg", ""))
    if kind == "enum":
        expected = str(error.get("ctx", {}).get("expected", ""))
        expected = expected.replace(" or ", ", ").replace("'", "")
        return _EXPECTED["enum"].format(expected=expected)
    for key in ("url_scheme", "redis_scheme", "host_port", "log_level", "log_format"):
        if key in text:
            return _EXPECTED[key]
    if "UUID" in text or "uuid" in text or "hexadecimal" in text:
        return _EXPECTED["uuid"]
    return _EXPECTED.get(kind, "допустимое значение")


# Settings whose value must never be echoed, and URLs whose credentials part is masked.
_SECRET_SETTINGS = ("PASSWORD", "TOKEN", "DSN", "BASIC_AUTH")


def _mask_secret(name: str, value) -> str:
    text = str(value)
    if any(part in name for part in _SECRET_SETTINGS):
        return "***"
    return re.sub(r"(//[^/@]*:)[^/@]*@", r"\1***@", text)


def describe_validation_error(error: ValidationError) -> str:
    """Build the sentence for the first invalid setting in `error`."""
    first = error.errors()[0]
    name = str(first["loc"][0]) if first.get("loc") else "?"
    if first.get("type") == "missing":
        return f"Не задана настройка {name}: укажите её в файле .env или в переменной окружения."
    value = _mask_secret(name, first.get("input"))
    return (
        f"Настройка {name} имеет неверное значение «{value}»: нужно {_expected_for(first)}; "
        "исправьте её в файле .env или в переменной окружения."
    )


def missing_setting(name: str, purpose: str) -> SettingsError:
    """Build the error for a setting that this process needs but that is not set."""
    return SettingsError(
        f"Не задана настройка {name} ({purpose}): укажите её в файле .env "
        "или в переменной окружения."
    )
