"""The courier's settings, read from the environment and an optional `.env` file.

The names are a contract: 1C admins, docker-compose.yml and acceptance checks set them,
so a field here is renamed only together with DESIGN.md and `.env.example`.
"""

import uuid
from enum import Enum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDED_REDIS_URL = "redis://127.0.0.1:6390/0"
"""Address of the private redis-server that `make run` starts when REDIS_URL is not set."""


class SendMode(str, Enum):
    """Form a document takes in the client's chat."""

    NOTIFICATION = "notification"
    SPECIALIST = "specialist"


class WatcherMode(str, Enum):
    """Source of the watcher's news about new files in the inbox."""

    AUTO = "auto"
    EVENTS = "events"
    POLLING = "polling"


PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class Settings(BaseSettings):
    """All settings of every courier process; each field names its unit."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=True,
        extra="ignore",
        # `NAME=` in .env means "not set", as .env.example promises, not an empty value.
        env_ignore_empty=True,
    )

    COURIER_ROOT: Path = Field(
        Path("./var/courier"),
        description="Root of inbox/, work/, sent/, failed/, status/ and feedback/.",
    )
    REDIS_URL: str = Field(
        EMBEDDED_REDIS_URL,
        description="Redis for the Celery broker, the dedup ledger and the rate limiter.",
    )

    CONNECT_BASE_URL: str = Field(
        "https://push.1c-connect.com", description="1C-Connect API root, without /v1/."
    )
    CONNECT_LOGIN: str | None = Field(None, description="API user for HTTP Basic auth.")
    CONNECT_PASSWORD: SecretStr | None = Field(None, description="API user's password.")
    CONNECT_LINE_ID: str | None = Field(
        None, description="Default support line UUID when a sidecar gives no line_id."
    )
    CONNECT_AUTHOR_ID: str | None = Field(
        None, description="Default specialist UUID that documents are sent on behalf of."
    )
    CONNECT_SEND_MODE: SendMode = Field(
        SendMode.NOTIFICATION, description="notification_only sends or bot_as_spec sends."
    )
    CONNECT_RATE_PER_SECOND: PositiveInt = Field(
        20, description="API requests per second shared by all workers."
    )
    CONNECT_RATE_PER_MINUTE: PositiveInt = Field(
        600, description="API requests per minute shared by all workers."
    )

    WATCHER_MODE: WatcherMode = Field(WatcherMode.AUTO, description="auto, events or polling.")
    WATCHER_POLL_SECONDS: PositiveFloat = Field(2.0, description="Inbox scan interval, s.")
    WATCHER_SETTLE_SECONDS: Annotated[float, Field(ge=0)] = Field(
        2.0, description="How long a drop's files must stay unchanged before a claim, s."
    )
    WATCHER_MISSING_FILE_SECONDS: PositiveFloat = Field(
        300.0, description="How long a sidecar may wait for the files it lists, s."
    )

    DELIVERY_MAX_AGE_HOURS: PositiveFloat = Field(
        24.0, description="Give up on transient errors this many hours after the claim."
    )
    MAX_FILE_MB: PositiveFloat = Field(100.0, description="Largest file accepted, MB.")
    DEDUP_DAYS: PositiveInt = Field(90, description="How long a delivery counts for dedup.")
    FEEDBACK_WINDOW_DAYS: PositiveInt = Field(
        14, description="How long after a delivery a client's reply counts as feedback."
    )
    FEEDBACK_LISTEN: str = Field(
        "127.0.0.1:8085", description="host:port of the webhook receiver."
    )

    LOG_LEVEL: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    LOG_FORMAT: str = Field("text", description="text, or json for one JSON object a line.")
    SENTRY_ENVIRONMENT: str = Field("production", description="Sentry environment tag.")

    FLOWER_BASIC_AUTH: SecretStr | None = Field(None, description="user:password for Flower.")
    SENTRY_DSN: SecretStr | None = Field(None, description="Sentry DSN; empty = off.")
    FEEDBACK_TOKEN: SecretStr | None = Field(
        None, description="Bearer token 1C-Connect presents to the webhook receiver."
    )
    FEEDBACK_PUBLIC_URL: str | None = Field(
        None, description="Public URL at which 1C-Connect reaches /connect/events/."
    )

    @field_validator("LOG_LEVEL")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("log_level")
        return value.upper()

    @field_validator("LOG_FORMAT")
    @classmethod
    def _format(cls, value: str) -> str:
        if value.lower() not in ("text", "json"):
            raise ValueError("log_format")
        return value.lower()

    @field_validator("CONNECT_BASE_URL")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("url_scheme")
        return value.rstrip("/")

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_scheme")
        return value

    @field_validator("FEEDBACK_LISTEN")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("host_port")
        return value

    @field_validator("CONNECT_LINE_ID", "CONNECT_AUTHOR_ID")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return str(uuid.UUID(value.strip()))

    @property
    def max_file_bytes(self) -> int:
        """Upload size cap in bytes."""
        return int(self.MAX_FILE_MB * 1024 * 1024)

    @property
    def has_connect_credentials(self) -> bool:
        """True when both API login and password are set."""
        return bool(self.CONNECT_LOGIN) and self.CONNECT_PASSWORD is not None
