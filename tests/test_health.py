"""`courier health` passes when everything runs and fails when Redis or the watcher is down."""

import pytest

from tests.processes import courier_cli, free_port, wait_for


@pytest.mark.usefixtures("worker")
def test_health_passes_when_all_is_well(courier_env, watcher):
    result = courier_cli(courier_env, "health")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ОШИБКА" not in result.stdout
    for label in ("Redis", "Воркеры Celery", "Наблюдатель", "Папка inbox", "1С-Коннект"):
        assert label in result.stdout


@pytest.mark.usefixtures("worker")
def test_health_fails_when_watcher_stops(courier_env, watcher, redis_client):
    watcher.stop()
    wait_for(lambda: not redis_client.keys("courier:watcher:heartbeat:*"), 30,
             message="the watcher to remove its heartbeat on shutdown")

    result = courier_cli(courier_env, "health", "--check", "watcher")

    assert result.returncode == 7
    assert "Наблюдатель" in result.stdout
    assert "ОШИБКА" in result.stdout


def test_health_fails_when_redis_is_down(courier_env):
    env = {**courier_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}

    result = courier_cli(env, "health", "--check", "redis", "--check", "workers")

    assert result.returncode == 7
    assert result.stdout.count("ОШИБКА") == 2
    assert "нет ответа" in result.stdout


def test_check_connect_rejects_wrong_password(courier_env):
    env = {**courier_env, "CONNECT_PASSWORD": "wrong-password"}

    result = courier_cli(env, "check-connect")

    assert result.returncode == 7
    assert "401" in result.stdout
    assert "wrong-password" not in result.stdout + result.stderr


def test_check_connect_passes_with_sandbox(courier_env):
    result = courier_cli(courier_env, "check-connect")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("1С-Коннект: в порядке")
