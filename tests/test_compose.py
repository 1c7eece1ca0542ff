"""docker-compose.yml parses, names every service, and runs what `make run` runs."""

import re

import pytest
import yaml

from tests.processes import PROJECT_ROOT

COURIER_SERVICES = {"worker", "beat", "watcher", "flower", "feedback"}


def procfile_commands() -> dict[str, str]:
    commands = {}
    for line in (PROJECT_ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            commands[name.strip()] = command.strip()
    return commands


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_names_every_service(compose):
    assert set(compose["services"]) == COURIER_SERVICES | {"redis"}


def test_compose_commands_match_procfile(compose):
    procfile = procfile_commands()
    for name in COURIER_SERVICES:
        assert compose["services"][name]["command"] == procfile[name], name


def test_procfile_has_no_process_missing_from_compose(compose):
    development_only = {"sandbox"}
    assert set(procfile_commands()) - development_only <= set(compose["services"])


def test_courier_health_checks_use_health_command(compose):
    for name in COURIER_SERVICES:
        test = compose["services"][name]["healthcheck"]["test"]
        assert test[:6] == ["CMD", "celery", "-A", "tasks", "courier", "health"], name


def test_redis_keeps_tasks_safe(compose):
    redis = compose["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert any(volume.endswith(":/data") for volume in redis["volumes"])


def test_services_restart_and_share_one_env_file(compose):
    for name in COURIER_SERVICES:
        service = compose["services"][name]
        assert service["restart"] == "unless-stopped"
        assert service["env_file"] == ".env"
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"


def test_watcher_polls_the_share(compose):
    assert compose["services"]["watcher"]["environment"]["WATCHER_MODE"] == "polling"


def test_published_ports_bind_loopback(compose):
    for service in compose["services"].values():
        for port in service.get("ports", []):
            assert re.match(r"^127\.0\.0\.1:", port), port
