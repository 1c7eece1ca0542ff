"""Lines, users and subscriptions that the sandbox serves, built from its settings."""

from __future__ import annotations

from typing import Any

from .config import SandboxConfig

# Fields of the 1C-Connect User object, with the value served when the seed data omits one.
USER_DEFAULTS: dict[str, Any] = {
    "user_id": "",
    "name": "",
    "surname": "",
    "patronymic": "",
    "avatar_url": "",
    "email": "",
    "post": "",
    "phone": "",
    "counterpart_id": None,
}

# Start date given to subscriptions that the settings do not list one by one.
DEFAULT_SUBSCRIPTION_SET = "2024-01-01T00:00:00Z"


class Directory:
    """Read-only lookup of the sandbox's lines, subscribers, specialists and subscriptions.

    Ids are compared case-insensitively, because UUID text is case-insensitive.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self._lines = {line["line_id"].lower(): dict(line) for line in config.lines}
        self._subscribers = _index_users(config.subscribers)
        self._specialists = _index_users(config.specialists)
        self._subscriptions = _build_subscriptions(config)
        self._subscribed = {
            (item["user_id"].lower(), item["line_id"].lower())
            for item in self._subscriptions
        }

    def lines(self) -> list[dict[str, Any]]:
        """Return the lines as `{line_id, name, allow_bot}` objects."""
        return [
            {
                "line_id": line["line_id"],
                "name": line["name"],
                "allow_bot": bool(line.get("allow_bot", True)),
            }
            for line in self._lines.values()
        ]

    def has_line(self, line_id: str) -> bool:
        return line_id.lower() in self._lines

    def is_subscriber(self, line_id: str, user_id: str) -> bool:
        """Tell whether the user is subscribed to the line (False for an unknown line)."""
        return (user_id.lower(), line_id.lower()) in self._subscribed

    def is_specialist(self, user_id: str) -> bool:
        return user_id.lower() in self._specialists

    def subscribers(self) -> list[dict[str, Any]]:
        return list(self._subscribers.values())

    def subscriber(self, user_id: str) -> dict[str, Any] | None:
        return self._subscribers.get(user_id.lower())

    def specialists(self) -> list[dict[str, Any]]:
        return list(self._specialists.values())

    def specialist(self, user_id: str) -> dict[str, Any] | None:
        return self._specialists.get(user_id.lower())

    def subscriptions(
        self, user_id: str | None = None, line_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the subscriptions, filtered by user and line when those are given."""
        found = []
        for item in self._subscriptions:
            if user_id is not None and item["user_id"].lower() != user_id.lower():
                continue
            if line_id is not None and item["line_id"].lower() != line_id.lower():
                continue
            found.append(dict(item))

        return found


def _index_users(users: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Map lower-case user ids to User objects with every standard field present."""
    indexed = {}
    for user in users:
        indexed[user["user_id"].lower()] = {**USER_DEFAULTS, **user}

    return indexed


def _build_subscriptions(config: SandboxConfig) -> list[dict[str, Any]]:
    """List the subscriptions from the settings, or subscribe everyone everywhere."""
    if config.subscriptions is None:
        listed = [
            {"user_id": user["user_id"], "line_id": line["line_id"]}
            for user in config.subscribers
            for line in config.lines
        ]
    else:
        listed = config.subscriptions

    return [
        {
            "user_id": item["user_id"],
            "line_id": item["line_id"],
            "subscription_set": item.get("subscription_set", DEFAULT_SUBSCRIPTION_SET),
            "subscription_expire_at": item.get("subscription_expire_at"),
        }
        for item in listed
    ]
