"""Filters on failed drops shared by `courier failed` and `courier retry --all-failed`."""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone

import click

from delivery.sidecar import DocumentKind
from tasks.cli.catalog import DropRecord

KIND_CODES = ", ".join(kind.value for kind in DocumentKind)


def parse_day(value: str) -> date:
    """Parse 2026-12-04 or 04.12.2026 (as 1C users write dates), else raise ValueError."""
    text = value.strip()
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


def _since_option(ctx, param, value: str | None) -> datetime | None:
    """Turn --since into the start of that day in the machine's local time zone."""
    if value is None:
        return None
    try:
        day = parse_day(value)
    except ValueError:
        raise click.BadParameter(
            f"дата «{value}» не распознана; укажите её как ГГГГ-ММ-ДД или ДД.ММ.ГГГГ, "
            "например 2026-12-04 или 04.12.2026.") from None
    return datetime.combine(day, time.min).astimezone()


def _client_option(ctx, param, value: str | None) -> str | None:
    if value is None:
        return None
    inn = value.strip()
    if not re.fullmatch(r"\d{10}|\d{12}", inn):
        raise click.BadParameter(
            f"«{value}» не похоже на ИНН; ИНН организации — 10 цифр, ИНН ИП — 12 цифр.")
    return inn


def _kind_option(ctx, param, value: str | None) -> DocumentKind | None:
    if value is None:
        return None
    try:
        return DocumentKind(value.strip().lower())
    except ValueError:
        raise click.BadParameter(
            f"вид «{value}» неизвестен; допустимые виды: {KIND_CODES}.") from None


@dataclass(frozen=True)
class DropFilter:
    """Conditions a failed drop must meet. An unset condition matches every drop."""

    since: datetime | None = None
    client_inn: str | None = None
    kind: DocumentKind | None = None

    @property
    def is_empty(self) -> bool:
        return self.since is None and self.client_inn is None and self.kind is None

    def matches(self, drop: DropRecord) -> bool:
        if self.since is not None and not _failed_since(drop, self.since):
            return False
        if self.client_inn is not None and drop.client_inn != self.client_inn:
            return False
        if self.kind is not None and drop.kind != self.kind.value:
            return False
        return True

    def describe(self) -> str:
        """List the set conditions in Russian, for "nothing matched" messages."""
        parts = []
        if self.since is not None:
            parts.append(f"с {self.since:%d.%m.%Y}")
        if self.client_inn is not None:
            parts.append(f"ИНН клиента {self.client_inn}")
        if self.kind is not None:
            parts.append(f"вид {self.kind.value}")
        return ", ".join(parts)


def _failed_since(drop: DropRecord, since: datetime) -> bool:
    failed_at = drop.failed_at
    if failed_at is None:
        return False
    if failed_at.tzinfo is None:
        failed_at = failed_at.replace(tzinfo=timezone.utc)
    return failed_at >= since


def filter_options(command):
    """Add --since, --client and --kind to a command as parameters `since`, `client`, `kind`."""
    command = click.option(
        "--kind", metavar="ВИД", callback=_kind_option,
        help=f"Только документы этого вида из сопроводительного JSON: {KIND_CODES}. "
             "По умолчанию — любые.")(command)
    command = click.option(
        "--client", metavar="ИНН", callback=_client_option,
        help="Только документы клиента с этим ИНН (поле client.inn сопроводительного "
             "JSON). По умолчанию — любые клиенты.")(command)
    command = click.option(
        "--since", metavar="ДАТА", callback=_since_option,
        help="Только дропы, не доставленные в этот день или позже (по местному времени). "
             "Формат ГГГГ-ММ-ДД или ДД.ММ.ГГГГ. По умолчанию — за всё время.")(command)
    return command
