"""Settings and seed data of the local 1C-Connect sandbox."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEMO_CONFIG_PATH = Path(__file__).with_name("demo.json")

DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024

# Settings that PUT /_sandbox/config and SandboxServer.update_config may change while
# the server runs. The directory (lines, users, subscriptions) and the address are fixed.
RUNTIME_FIELDS = frozenset(
    {
        "login",
        "password",
        "rate_per_second",
        "rate_per_minute",
        "latency_ms",
        "max_file_bytes",
        "hook_timeout_seconds",
    }
)

UUID_PATTERN = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE
)


class SandboxConfigError(ValueError):
    """Invalid sandbox settings. The message is a Russian sentence naming the field."""


@dataclass
class SandboxConfig:
    """Settings and seed data of one sandbox server.

    `lines` contains `{line_id, name, allow_bot}` objects. `subscribers` and
    `specialists` contain 1C-Connect User objects (`user_id`, `name`, `surname`,
    `patronymic`, `email`, `phone`, ...). `subscriptions` contains `{user_id, line_id,
    subscription_set?, subscription_expire_at?}` objects, and None subscribes every
    subscriber to every line. A rate of 0 turns that limit off.
    """

    host: str = "127.0.0.1"
    port: int = 0
    login: str = "sandbox"
    password: str = "sandbox"
    lines: list[dict[str, Any]] = field(default_factory=list)
    subscribers: list[dict[str, Any]] = field(default_factory=list)
    specialists: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] | None = None
    rate_per_second: int = 20
    rate_per_minute: int = 600
    latency_ms: int = 0
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    store_dir: str | None = None
    hook_timeout_seconds: float = 5.0
    hooks_loopback_only: bool = True

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def from_dict(cls, data: dict[str, Any], **overrides: Any) -> SandboxConfig:
        """Build settings from a JSON-like dict, with `overrides` replacing keys of `data`."""
        merged = {**data, **overrides}
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise SandboxConfigError(
                f"Неизвестные ключи настроек песочницы: {', '.join(unknown)}. "
                f"Допустимые ключи: {', '.join(sorted(known))}."
            )

        return cls(**merged)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> SandboxConfig:
        """Read settings from a UTF-8 JSON file (a BOM is allowed)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except OSError as error:
            raise SandboxConfigError(
                f"Не удалось прочитать файл настроек песочницы {path}: {error}."
            ) from error
        except json.JSONDecodeError as error:
            raise SandboxConfigError(
                f"Файл настроек песочницы {path} не является корректным JSON: {error}."
            ) from error

        if not isinstance(data, dict):
            raise SandboxConfigError(
                f"Файл настроек песочницы {path} должен содержать JSON-объект."
            )

        return cls.from_dict(data, **overrides)

    @classmethod
    def demo(cls, **overrides: Any) -> SandboxConfig:
        """Load the demo line, specialist and subscribers from demo.json."""
        return cls.from_file(DEMO_CONFIG_PATH, **overrides)

    def with_changes(self, **changes: Any) -> SandboxConfig:
        """Return a validated copy with runtime settings (RUNTIME_FIELDS) changed."""
        unknown = sorted(set(changes) - RUNTIME_FIELDS)
        if unknown:
            raise SandboxConfigError(
                f"Эти настройки нельзя менять на ходу: {', '.join(unknown)}. "
                f"Можно менять: {', '.join(sorted(RUNTIME_FIELDS))}."
            )

        return dataclasses.replace(self, **changes)

    def runtime_view(self) -> dict[str, Any]:
        """Describe the runtime settings without the password."""
        view = {name: getattr(self, name) for name in sorted(RUNTIME_FIELDS)}
        del view["password"]
        return view

    def validate(self) -> None:
        """Check every field and raise SandboxConfigError on the first invalid one."""
        _check_loopback_host(self.host)
        _check_int("port", self.port, minimum=0, maximum=65535)
        _check_text("login", self.login)
        _check_text("password", self.password)
        _check_int("rate_per_second", self.rate_per_second, minimum=0)
        _check_int("rate_per_minute", self.rate_per_minute, minimum=0)
        _check_int("latency_ms", self.latency_ms, minimum=0)
        _check_int("max_file_bytes", self.max_file_bytes, minimum=1)
        _check_timeout(self.hook_timeout_seconds)
        _check_seed_data(self)


def _check_loopback_host(host: str) -> None:
    """Allow only loopback addresses, because the control API has no authentication."""
    if host == "localhost":
        return

    try:
        is_loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False

    if not is_loopback:
        raise SandboxConfigError(
            f"Песочница слушает только адрес обратной петли, а указан host={host!r}. "
            "Укажите 127.0.0.1, ::1 или localhost."
        )


def _check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> None:
    valid = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    if valid and maximum is not None:
        valid = value <= maximum

    if not valid:
        upper = f" и не больше {maximum}" if maximum is not None else ""
        raise SandboxConfigError(
            f"Настройка {name} должна быть целым числом не меньше {minimum}{upper}, "
            f"а указано {value!r}."
        )


def _check_text(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise SandboxConfigError(f"Настройка {name} должна быть непустой строкой.")


def _check_timeout(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise SandboxConfigError(
            "Настройка hook_timeout_seconds должна быть положительным числом секунд, "
            f"а указано {value!r}."
        )


def _check_seed_data(config: SandboxConfig) -> None:
    """Check that lines and users carry UUIDs and subscriptions name known ones."""
    line_ids = _check_ids("lines", config.lines, "line_id")
    subscriber_ids = _check_ids("subscribers", config.subscribers, "user_id")
    _check_ids("specialists", config.specialists, "user_id")

    for line in config.lines:
        _check_text(f"lines[].name ({line['line_id']})", line.get("name"))

    for index, item in enumerate(config.subscriptions or []):
        if not isinstance(item, dict):
            raise SandboxConfigError(f"subscriptions[{index}] должен быть JSON-объектом.")
        if str(item.get("user_id", "")).lower() not in subscriber_ids:
            raise SandboxConfigError(
                f"subscriptions[{index}] ссылается на неизвестного подписчика "
                f"{item.get('user_id')!r}. Добавьте его в subscribers."
            )
        if str(item.get("line_id", "")).lower() not in line_ids:
            raise SandboxConfigError(
                f"subscriptions[{index}] ссылается на неизвестную линию "
                f"{item.get('line_id')!r}. Добавьте её в lines."
            )


def _check_ids(name: str, items: Any, key: str) -> set[str]:
    """Check that each item of a seed list has a UUID under `key` and return the ids."""
    if not isinstance(items, list):
        raise SandboxConfigError(f"Настройка {name} должна быть списком JSON-объектов.")

    ids = set()
    for index, item in enumerate(items):
        value = item.get(key) if isinstance(item, dict) else None
        if not isinstance(value, str) or not UUID_PATTERN.match(value):
            raise SandboxConfigError(
                f"{name}[{index}].{key} должен быть UUID вида "
                f"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, а указано {value!r}."
            )
        ids.add(value.lower())

    return ids
