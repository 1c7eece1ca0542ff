"""Refuse to start Flower without authentication unless it listens on loopback only.

Flower parses its own options after the Celery app is loaded, so this check reads the
same sources Flower reads (command line, FLOWER_* variables, flowerconfig.py defaults)
at import time of the app, before Flower opens its port.
"""

import ipaddress
import os

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Flower's own default is every interface; flowerconfig.py in the project narrows it.
DEFAULT_ADDRESS = "127.0.0.1"


def _option(argv: list[str], name: str) -> str | None:
    """Return the value of --name=VALUE or --name VALUE (also with dashes) in argv."""
    spellings = {f"--{name}", f"--{name.replace('_', '-')}"}
    for index, token in enumerate(argv):
        flag, has_value, value = token.partition("=")
        if flag in spellings:
            if has_value:
                return value
            return argv[index + 1] if index + 1 < len(argv) else ""
    return None


def _is_loopback(address: str) -> bool:
    if address in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def flower_auth_problem(argv: list[str], environ: dict) -> str | None:
    """Return a Russian sentence when Flower would serve without auth beyond loopback."""
    address = _option(argv, "address")
    if address is None:
        address = environ.get("FLOWER_ADDRESS", DEFAULT_ADDRESS)
    basic_auth = _option(argv, "basic_auth") or environ.get("FLOWER_BASIC_AUTH")
    oauth = (_option(argv, "auth") or environ.get("FLOWER_AUTH")) and (
        _option(argv, "auth_provider") or environ.get("FLOWER_AUTH_PROVIDER"))
    if basic_auth or oauth or _is_loopback(address):
        return None
    listened = address or "все адреса"
    return (f"Flower не запущен: он слушал бы {listened} без пароля. Задайте FLOWER_BASIC_AUTH "
            "в виде логин:пароль (или OAuth-настройки Flower) либо запустите его с "
            "--address=127.0.0.1.")


def check_flower(argv: list[str] | None = None, environ: dict | None = None) -> None:
    """Exit with code 78 when the current command starts Flower unprotected."""
    import sys

    argv = list(sys.argv if argv is None else argv)
    if "flower" not in argv[1:]:
        return
    problem = flower_auth_problem(argv[argv.index("flower") + 1:],
                                  dict(os.environ if environ is None else environ))
    if problem:
        print(problem, file=sys.stderr)
        raise SystemExit(78)
