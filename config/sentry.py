"""Sentry for every courier process, with personal data and secrets scrubbed out.

Events never carry local variables (a frame may hold a sidecar), request bodies, the API
password, tokens, INNs, e-mail addresses or phone numbers. Retries are not reported;
a drop that fails for good is reported once through `report_final_failure`.
"""

import logging
import re
from importlib.metadata import PackageNotFoundError, version

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration

from config.settings import Settings

log = logging.getLogger(__name__)

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)*\.[^\W\d_]{2,}")
PHONE = re.compile(r"(?<![\w-])\+?[78]?[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?![\w-])")
INN = re.compile(r"(?<![\w-])\d{10}(\d{2})?(?![\w-])")
SECRET_KEYS = re.compile(
    r"pass|token|secret|authorization|^auth$|dsn|cookie|^inn$|email|phone|sidecar",
    re.IGNORECASE)


def package_version() -> str:
    try:
        return version("connect-courier")
    except PackageNotFoundError:
        return "0+unknown"


class Scrubber:
    """Replaces secrets and personal data in any JSON-like structure."""

    def __init__(self, secrets: list[str]):
        self.secrets = [secret for secret in secrets if secret and len(secret) >= 4]

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, "[скрыто]")
        value = EMAIL.sub("[email]", value)
        value = PHONE.sub("[телефон]", value)
        return INN.sub("[ИНН]", value)

    def walk(self, value, key: str = ""):
        if isinstance(value, str):
            return "[скрыто]" if SECRET_KEYS.search(key) else self.text(value)
        if isinstance(value, dict):
            return {name: self.walk(item, str(name)) for name, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.walk(item, key) for item in value]
        return value


def _secrets_of(settings: Settings) -> list[str]:
    values = [settings.CONNECT_PASSWORD, settings.FEEDBACK_TOKEN, settings.FLOWER_BASIC_AUTH]
    found = [value.get_secret_value() for value in values if value is not None]
    if settings.FLOWER_BASIC_AUTH is not None:
        found.append(settings.FLOWER_BASIC_AUTH.get_secret_value().partition(":")[2])
    return found


def init_sentry(settings: Settings, component: str) -> bool:
    """Start the Sentry SDK when SENTRY_DSN is set; return whether it started."""
    if settings.SENTRY_DSN is None or not settings.SENTRY_DSN.get_secret_value():
        return False
    scrubber = Scrubber(_secrets_of(settings))
    sentry_sdk.init(
        dsn=settings.SENTRY_DSN.get_secret_value(),
        release=f"connect-courier@{package_version()}",
        environment=settings.SENTRY_ENVIRONMENT,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=lambda event, _hint: scrubber.walk(event),
        before_breadcrumb=lambda crumb, _hint: scrubber.walk(crumb),
        integrations=[LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
    )
    sentry_sdk.set_tag("component", component)
    log.info("Sentry включён для процесса %s (окружение %s).", component,
             settings.SENTRY_ENVIRONMENT)
    return True


def report_final_failure(drop_id: str, document_id: str | None, message: str,
                         error_class: str) -> None:
    """Send one Sentry event for a drop that failed for good; no-op without Sentry."""
    if not sentry_sdk.get_client().is_active():
        return
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("drop_id", drop_id)
        scope.set_tag("document_id", document_id or "unknown")
        scope.set_tag("error_class", error_class)
        scope.fingerprint = ["courier-final-failure", error_class]
        sentry_sdk.capture_message(f"Дроп {drop_id} не доставлен: {message}", level="error")
