"""Feedback admin commands and the receiver's start-up checks, run as subprocesses."""

import json
import secrets
import subprocess
import sys

import pytest

from tests.conftest import LINE_ID
from tests.processes import PROJECT_ROOT, courier_cli, feedback_cli, free_port

EXIT_USAGE = 2
EXIT_NO_FEEDBACK = 3
EXIT_API_UNAVAILABLE = 69
EXIT_CONFIG = 78


@pytest.fixture
def feedback_token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
def cli_env(courier_env, feedback_token) -> dict:
    return {**courier_env, "FEEDBACK_TOKEN": feedback_token,
            "FEEDBACK_PUBLIC_URL": "https://courier.example.ru"}


def test_hook_register_show_delete(cli_env, sandbox, feedback_token):
    registered = feedback_cli(cli_env, "hook", "register")

    assert registered.returncode == 0, registered.stderr
    url = "https://courier.example.ru/connect/events/"
    assert url in registered.stdout
    assert sandbox.hooks() == [{"type": "line", "id": LINE_ID, "url": url,
                                "back_auth": {"type": "bearer", "token": feedback_token}}]
    assert feedback_token not in registered.stdout + registered.stderr

    listing = feedback_cli(cli_env, "hook", "show")
    assert listing.returncode == 0, listing.stderr
    assert f"({LINE_ID}): хук line — {url}" in listing.stdout

    deleted = feedback_cli(cli_env, "hook", "delete")
    assert deleted.returncode == 0, deleted.stderr
    assert sandbox.hooks() == []
    assert "не зарегистрирован" in feedback_cli(cli_env, "hook", "show").stdout


def test_hook_register_without_public_url(cli_env, sandbox):
    env = {**cli_env, "FEEDBACK_PUBLIC_URL": ""}

    result = feedback_cli(env, "hook", "register")

    assert result.returncode == EXIT_CONFIG
    assert "FEEDBACK_PUBLIC_URL" in result.stderr
    assert sandbox.hooks() == []


def test_hook_register_with_wrong_password(cli_env, sandbox):
    env = {**cli_env, "CONNECT_PASSWORD": "wrong-password"}

    result = feedback_cli(env, "hook", "register")

    assert result.returncode == EXIT_API_UNAVAILABLE
    assert "ответ 401" in result.stderr
    assert "CONNECT_PASSWORD" in result.stderr
    assert "wrong-password" not in result.stderr


def test_hook_delete_rejects_invalid_line_id(cli_env):
    result = feedback_cli(cli_env, "hook", "delete", "--line-id", "линия-1")

    assert result.returncode == EXIT_USAGE
    assert "не является UUID" in result.stderr


def test_feedback_command_without_records(cli_env):
    document_id = "3f2c9a4e-5b1d-4c1e-9a57-0c2f7e1d8b21"

    result = feedback_cli(cli_env, "feedback", document_id)

    assert result.returncode == EXIT_NO_FEEDBACK
    assert f"На документ {document_id} отзывов нет." in result.stderr


def test_feedback_command_rejects_path_as_id(cli_env):
    result = feedback_cli(cli_env, "feedback", "../status")

    assert result.returncode == EXIT_USAGE
    assert "GUID" in result.stderr


def test_feedback_command_prints_all_as_json(cli_env, courier_root):
    document_id = "3f2c9a4e-5b1d-4c1e-9a57-0c2f7e1d8b21"
    folder = courier_root / "feedback" / document_id
    folder.mkdir(parents=True)
    for message_id, rating, time in (("m2", 2, "2026-12-04T12:10:00+00:00"),
                                     ("m1", 5, "2026-12-04T12:05:00+00:00")):
        record = {"document_id": document_id, "message_id": message_id, "rating": rating,
                  "verdict": None, "comment": "", "time": time, "files": []}
        (folder / f"{message_id}.json").write_text(json.dumps(record), encoding="utf-8")

    latest = feedback_cli(cli_env, "feedback", document_id.upper())
    every = feedback_cli(cli_env, "feedback", document_id, "--all", "--json")

    assert latest.returncode == 0, latest.stderr
    assert "отзывов 2" in latest.stdout
    assert "Отзыв m2" in latest.stdout
    assert "Оценка: 2" in latest.stdout
    assert "Отзыв m1" not in latest.stdout
    assert [item["message_id"] for item in json.loads(every.stdout)] == ["m1", "m2"]


@pytest.mark.parametrize("token", [None, "", "   "])
def test_receiver_refuses_to_start_without_token(courier_env, token):
    env = {key: value for key, value in courier_env.items() if key != "FEEDBACK_TOKEN"}
    env["FEEDBACK_LISTEN"] = f"127.0.0.1:{free_port()}"
    if token is not None:
        env["FEEDBACK_TOKEN"] = token

    result = subprocess.run([sys.executable, "-m", "feedback"], env=env, cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == EXIT_CONFIG
    assert "Не задана настройка FEEDBACK_TOKEN" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [("hook", "--help"), ("hook", "register", "--help"),
                                  ("feedback", "--help")])
def test_courier_help_in_russian(courier_env, args):
    result = courier_cli(courier_env, *args)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Использование:")
    assert "Usage:" not in result.stdout
    assert "Show this message" not in result.stdout
