"""Flower never serves without authentication beyond loopback."""

import subprocess
import sys

from tasks.flower_guard import flower_auth_problem
from tests.processes import PROJECT_ROOT


def test_loopback_without_auth_allowed():
    assert flower_auth_problem([], {}) is None
    assert flower_auth_problem(["--address=127.0.0.1"], {}) is None
    assert flower_auth_problem(["--address", "::1"], {}) is None


def test_public_address_without_auth_refused():
    assert flower_auth_problem(["--address=0.0.0.0"], {}) is not None
    assert flower_auth_problem([], {"FLOWER_ADDRESS": ""}) is not None


def test_public_address_with_basic_auth_allowed():
    assert flower_auth_problem(["--address=0.0.0.0"], {"FLOWER_BASIC_AUTH": "admin:x"}) is None
    assert flower_auth_problem(["--address=0.0.0.0", "--basic-auth=admin:x"], {}) is None


def test_public_address_with_oauth_allowed():
    environ = {"FLOWER_AUTH": ".*@example\\.ru", "FLOWER_AUTH_PROVIDER":
               "flower.views.auth.GoogleLoginHandler"}
    assert flower_auth_problem(["--address=0.0.0.0"], environ) is None


def test_flower_command_refuses_to_start(redis_url):
    env = {"PATH": "/usr/bin:/bin", "REDIS_URL": redis_url, "HOME": "/tmp"}
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tasks", "flower", "--address=0.0.0.0"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 78
    assert "FLOWER_BASIC_AUTH" in result.stderr
    assert "без пароля" in result.stderr
