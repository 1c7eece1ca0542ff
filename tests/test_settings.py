"""A missing or invalid setting stops a process at start with one Russian sentence."""

import subprocess
import sys

import pytest

from config import Settings, SettingsError, load_settings
from tests.processes import PROJECT_ROOT


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name, raising=False)
    load_settings.cache_clear()
    yield monkeypatch
    load_settings.cache_clear()


def settings_error(monkeypatch, name: str, value: str) -> str:
    monkeypatch.setenv(name, value)
    load_settings.cache_clear()
    with pytest.raises(SettingsError) as caught:
        load_settings()
    return str(caught.value)


@pytest.mark.parametrize("name, value, expected", [
    ("CONNECT_RATE_PER_SECOND", "много", "целое число"),
    ("CONNECT_RATE_PER_MINUTE", "0", "больше нуля"),
    ("WATCHER_MODE", "inotify", "auto, events, polling"),
    ("CONNECT_LINE_ID", "линия-1", "UUID"),
    ("CONNECT_BASE_URL", "push.1c-connect.com", "http://"),
    ("REDIS_URL", "localhost:6379", "redis://"),
    ("FEEDBACK_LISTEN", "8085", "хост:порт"),
    ("LOG_LEVEL", "verbose", "DEBUG"),
])
def test_invalid_setting_named_with_fix(clean_env, name, value, expected):
    message = settings_error(clean_env, name, value)
    assert name in message
    assert expected in message
    assert ".env" in message


def test_secret_in_invalid_url_masked(clean_env):
    message = settings_error(clean_env, "REDIS_URL", "redis//:s3cret@localhost")
    assert "s3cret" not in message


def test_defaults_match_design(clean_env):
    settings = Settings()
    assert settings.CONNECT_RATE_PER_SECOND == 20
    assert settings.CONNECT_RATE_PER_MINUTE == 600
    assert settings.WATCHER_SETTLE_SECONDS == 2
    assert settings.WATCHER_MISSING_FILE_SECONDS == 300
    assert settings.DELIVERY_MAX_AGE_HOURS == 24
    assert settings.DEDUP_DAYS == 90
    assert settings.FEEDBACK_WINDOW_DAYS == 14
    assert settings.FEEDBACK_LISTEN == "127.0.0.1:8085"
    assert settings.CONNECT_SEND_MODE.value == "notification"


def test_env_example_lists_every_setting():
    text = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    declared = {line.split("=", 1)[0] for line in text.splitlines()
                if line and not line.startswith("#")}
    assert declared == set(Settings.model_fields)


def test_worker_without_login_exits_with_config_code(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CONNECT_LOGIN": ""}
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool", "solo"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 78
    assert "CONNECT_LOGIN" in result.stderr


def test_watcher_with_bad_setting_exits_with_config_code(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "WATCHER_POLL_SECONDS": "-1"}
    result = subprocess.run([sys.executable, "-m", "watcher"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 78
    assert "WATCHER_POLL_SECONDS" in result.stderr
