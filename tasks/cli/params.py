"""Checks of identifiers given on the command line: document, line and drop ids."""

import re

import click

from delivery.sidecar import normalize_uuid

# Drop ids look like 20261204-201530-123456-9f3a1c (see delivery.folders.new_drop_id).
DROP_ID_PATTERN = re.compile(r"\d{8}-\d{6}-\d{6}-[0-9a-f]{6}")


def _uuid_or_fail(value: str, expected: str) -> str:
    try:
        return normalize_uuid(value)
    except ValueError:
        raise click.BadParameter(
            f"«{value}» — не {expected}; нужен GUID вида 3f2c9a4e-5b1d-4c1e-9a57-0c2f7e1d8b21 "
            "(фигурные скобки и заглавные буквы допустимы).") from None


def document_id_callback(ctx, param, value: str | None) -> str | None:
    """Normalize a document GUID as the sidecar parser does: lower case, no braces."""
    return None if value is None else _uuid_or_fail(value, "GUID документа")


def line_id_callback(ctx, param, value: str | None) -> str | None:
    """Normalize a support line UUID, so it matches the line ids the worker checks."""
    return None if value is None else _uuid_or_fail(value, "UUID линии")


def drop_id_callback(ctx, param, value: str | None) -> str | None:
    """Check a drop id, which also names a folder, so it can never point outside failed/."""
    if value is None:
        return None
    if not DROP_ID_PATTERN.fullmatch(value.strip()):
        raise click.BadParameter(
            f"«{value}» — не идентификатор дропа; он выглядит как "
            "20261204-201530-123456-9f3a1c (имя папки в failed/).")
    return value.strip()
