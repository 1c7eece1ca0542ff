"""Injected faults: failing responses, hangs and a "down" switch for retry tests."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any

DOWN_MODES = ("close", "503")

DEFAULT_FAULT_ERROR = "Service temporarily unavailable (injected by the sandbox)"


class FaultSpecError(ValueError):
    """An invalid fault description. The message is a Russian sentence."""


@dataclass
class FaultRule:
    """A fault applied to the next `count` matching /v1/ requests.

    With `count` None the rule stays until the faults are cleared. With `status` None
    the rule is a pure hang: the request waits `hang_seconds`, then is served normally.
    `retry_after` (whole seconds) is sent as the Retry-After header. `error` is the
    text of the `{"error": ...}` body, and None sends an empty body.
    """

    status: int | None = 500
    count: int | None = 1
    path_prefix: str = "/v1/"
    method: str | None = None
    retry_after: int | None = None
    hang_seconds: float = 0.0
    error: str | None = DEFAULT_FAULT_ERROR

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise FaultSpecError when a field is out of range."""
        if self.status is not None and not _is_int_in(self.status, 100, 599):
            raise FaultSpecError(f"status должен быть кодом HTTP 100–599, а не {self.status!r}.")
        if self.count is not None and not _is_int_in(self.count, 1, None):
            raise FaultSpecError(
                f"count должен быть целым числом ≥ 1 или null, а не {self.count!r}."
            )
        if self.retry_after is not None and not _is_int_in(self.retry_after, 0, None):
            raise FaultSpecError(
                f"retry_after задаётся целым числом секунд ≥ 0, а не {self.retry_after!r}."
            )
        if not isinstance(self.path_prefix, str) or not self.path_prefix.startswith("/"):
            raise FaultSpecError(f"path_prefix должен начинаться с «/», а не {self.path_prefix!r}.")
        if not _is_number_in(self.hang_seconds, 0.0):
            raise FaultSpecError(
                f"hang_seconds должен быть числом секунд ≥ 0, а не {self.hang_seconds!r}."
            )
        if self.status is None and self.hang_seconds == 0:
            raise FaultSpecError(
                "Укажите status, hang_seconds или оба, иначе сбой ничего не делает."
            )

    def matches(self, method: str, path: str) -> bool:
        """Tell whether the rule applies to the request. `path` ends with a slash."""
        if self.method is not None and self.method.upper() != method.upper():
            return False

        return path.startswith(self.path_prefix)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class FaultBoard:
    """Thread-safe set of pending fault rules and the "down" switch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._down_mode: str | None = None
        self._injected = 0

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def set_down(self, down: bool, mode: str = "close") -> None:
        """Turn the "down" switch on or off.

        Mode "close" drops every /v1/ connection without a response. Mode "503" returns
        503 to every /v1/ request.
        """
        if mode not in DOWN_MODES:
            raise FaultSpecError(f"mode должен быть одним из {DOWN_MODES}, а не {mode!r}.")

        with self._lock:
            self._down_mode = mode if down else None

    def down_mode(self) -> str | None:
        """Return "close" or "503" while the server plays down, else None."""
        with self._lock:
            return self._down_mode

    def take(self, method: str, path: str) -> FaultRule | None:
        """Return the first rule matching the request and use up one of its count."""
        with self._lock:
            for index, rule in enumerate(self._rules):
                if not rule.matches(method, path):
                    continue

                if rule.count is not None:
                    rule.count -= 1
                    if rule.count == 0:
                        del self._rules[index]

                self._injected += 1
                return rule

        return None

    def clear(self) -> None:
        """Remove every rule and turn the "down" switch off."""
        with self._lock:
            self._rules.clear()
            self._down_mode = None

    def reset(self) -> None:
        """Clear the faults and the count of injected faults."""
        self.clear()
        with self._lock:
            self._injected = 0

    def injected(self) -> int:
        """Return how many requests got an injected fault since the last reset."""
        with self._lock:
            return self._injected

    def to_dict(self) -> dict[str, Any]:
        """Describe the pending rules, the switch and the injected count for the control API."""
        with self._lock:
            return {
                "rules": [rule.to_dict() for rule in self._rules],
                "down": self._down_mode is not None,
                "down_mode": self._down_mode,
                "injected": self._injected,
            }


def fault_rule_from_dict(data: dict[str, Any]) -> FaultRule:
    """Build a rule from control-API JSON, or raise FaultSpecError on unknown keys."""
    known = {item.name for item in dataclasses.fields(FaultRule)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise FaultSpecError(
            f"Неизвестные поля сбоя: {', '.join(unknown)}. Допустимые: {', '.join(sorted(known))}."
        )

    return FaultRule(**data)


def _is_int_in(value: Any, minimum: int, maximum: int | None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        return False

    return maximum is None or value <= maximum


def _is_number_in(value: Any, minimum: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False

    return value >= minimum
