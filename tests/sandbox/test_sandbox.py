"""Tests of the local 1C-Connect sandbox, run against the real server over HTTP."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests_toolbelt import MultipartEncoder

from delivery.sandbox import SandboxConfig, SandboxConfigError, SandboxServer

REPO_ROOT = Path(__file__).resolve().parents[2]

LOGIN = "courier-test"
PASSWORD = "test-password"
LINE_ID = "5b0e6a52-7d0e-4c61-9a39-4a8f3f6c2d10"
OTHER_LINE_ID = "0c6b6e9e-3f52-4a2b-8d2e-7f0e5d1a9b33"
SPECIALIST_ID = "f1d5c0a4-2b8e-4f6a-9c3d-1e7a5b9c0d21"
SUBSCRIBER_ID = "3a9e7c1b-5d2f-4e8a-b6c4-0f1e2d3c4b55"
SECOND_SUBSCRIBER_ID = "9d8c7b6a-5e4f-4a3b-8c2d-1e0f9a8b7c66"
OTHER_LINE_SUBSCRIBER_ID = "7e6d5c4b-3a2f-4e1d-9c8b-7a6f5e4d3c77"
UNKNOWN_ID = "00000000-1111-4222-8333-444444444444"

CYRILLIC_NAME = "Счёт №15 от 04.12.2026 для ООО «Ромашка».pdf"


def make_config(**overrides: Any) -> SandboxConfig:
    """Build a small sandbox config: two lines, one specialist, three subscribers."""
    data = {
        "login": LOGIN,
        "password": PASSWORD,
        "lines": [
            {"line_id": LINE_ID, "name": "Линия сопровождения", "allow_bot": True},
            {"line_id": OTHER_LINE_ID, "name": "Линия отдела кадров", "allow_bot": False},
        ],
        "specialists": [
            {"user_id": SPECIALIST_ID, "name": "Ольга", "surname": "Смирнова", "patronymic": "Викторовна"},
        ],
        "subscribers": [
            {
                "user_id": SUBSCRIBER_ID,
                "name": "Сергей",
                "surname": "Иванов",
                "patronymic": "Петрович",
                "email": "s.ivanov@romashka.example",
                "phone": "+7 (906) 555-45-67",
                "post": "Главный бухгалтер",
            },
            {"user_id": SECOND_SUBSCRIBER_ID, "name": "Анна", "surname": "Кузнецова"},
            {"user_id": OTHER_LINE_SUBSCRIBER_ID, "name": "Пётр", "surname": "Сидоров"},
        ],
        "subscriptions": [
            {"user_id": SUBSCRIBER_ID, "line_id": LINE_ID},
            {"user_id": SECOND_SUBSCRIBER_ID, "line_id": LINE_ID},
            {"user_id": OTHER_LINE_SUBSCRIBER_ID, "line_id": OTHER_LINE_ID},
        ],
        "rate_per_second": 1000,
        "rate_per_minute": 100000,
    }
    return SandboxConfig.from_dict(data, **overrides)


class Client:
    """requests session bound to one sandbox, ignoring proxy settings of the environment."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None = (LOGIN, PASSWORD)) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.auth = auth

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def start_sandbox():
    """Start sandboxes with config overrides and stop them all after the test."""
    servers = []

    def start(**overrides: Any) -> SandboxServer:
        server = SandboxServer(make_config(**overrides)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(start_sandbox) -> SandboxServer:
    return start_sandbox()


@pytest.fixture
def api(sandbox) -> Client:
    return Client(sandbox.url)


@pytest.fixture
def control(sandbox) -> Client:
    return Client(sandbox.url, auth=None)


class HookReceiver:
    """Tiny local HTTP server that stores every POST it gets and responds with `status`."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)}
                )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/connect/events/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hook_receiver():
    receiver = HookReceiver()
    yield receiver
    receiver.stop()


def message(**fields: Any) -> dict[str, Any]:
    return {"line_id": LINE_ID, "user_id": SUBSCRIBER_ID, "text": "Документы готовы", **fields}


def file_meta(**fields: Any) -> dict[str, Any]:
    return {"line_id": LINE_ID, "user_id": SUBSCRIBER_ID, "file_name": CYRILLIC_NAME, **fields}


def upload(
    client: Client,
    meta: dict[str, Any] | str,
    content: Any = b"%PDF-1.4 test",
    filename: str = CYRILLIC_NAME,
    path: str = "/v1/line/send/file/",
    content_type: str = "application/pdf",
) -> requests.Response:
    """Send a multipart upload the way the courier does, streamed by MultipartEncoder."""
    meta_text = meta if isinstance(meta, str) else json.dumps(meta, ensure_ascii=False)
    encoder = MultipartEncoder(
        fields=[
            ("meta", (None, meta_text.encode("utf-8"), "application/json")),
            ("file", (filename, content, content_type)),
        ]
    )
    return client.post(path, data=encoder, headers={"Content-Type": encoder.content_type})


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def wait_until(condition, timeout_seconds: float = 5.0):
    """Poll `condition` until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"condition not met within {timeout_seconds} s")


# --- authentication -----------------------------------------------------------------


def test_missing_credentials_get_401(sandbox):
    response = Client(sandbox.url, auth=None).get("/v1/line/")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_wrong_password_gets_401(sandbox):
    response = Client(sandbox.url, auth=(LOGIN, "wrong")).post("/v1/line/send/message/", json=message())

    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized"}
    assert sandbox.received() == []


def test_password_change_at_runtime(sandbox, api, control):
    sandbox.update_config(password="rotated")

    assert api.get("/v1/line/").status_code == 401
    assert Client(sandbox.url, auth=(LOGIN, "rotated")).get("/v1/line/").status_code == 200

    response = control.request("PUT", "/_sandbox/config", json={"password": PASSWORD})
    assert response.status_code == 200
    assert "password" not in response.json()
    assert api.get("/v1/line/").status_code == 200


# --- sends --------------------------------------------------------------------------


def test_message_send_returns_empty_200(sandbox, api):
    response = api.post("/v1/line/send/message/", json=message(notification_only=True))

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Length"] == "0"


def test_message_is_recorded(sandbox, api):
    before = time.time()
    api.post("/v1/line/send/message/", json=message(author_id=SPECIALIST_ID, bot_as_spec=True))

    [record] = sandbox.received()
    assert record["seq"] == 1
    assert record["kind"] == "message"
    assert record["path"] == "/v1/line/send/message/"
    assert record["login"] == LOGIN
    assert record["meta"] == message(author_id=SPECIALIST_ID, bot_as_spec=True)
    assert record["sha256"] is None
    assert before <= record["first_byte_at"] <= record["completed_at"] <= time.time()


def test_path_without_trailing_slash_accepted(sandbox, api):
    assert api.post("/v1/line/send/message", json=message()).status_code == 200
    assert api.get("/v1/line").status_code == 200
    assert sandbox.received()[0]["path"] == "/v1/line/send/message/"


def test_chunked_message_body_accepted(sandbox, api):
    body = json.dumps(message()).encode("utf-8")
    chunks = (body[index:index + 7] for index in range(0, len(body), 7))

    response = api.post("/v1/line/send/message/", data=chunks, headers={"Content-Type": "application/json"})

    assert response.status_code == 200
    assert sandbox.received()[0]["meta"] == message()


def test_file_upload_streams_from_disk(sandbox, api, tmp_path):
    document = tmp_path / CYRILLIC_NAME
    document.write_bytes(os.urandom(300_000))
    meta = file_meta(comment="Счёт на оплату, просим оплатить до 10.12", notification_only=True, extra_key=1)

    with open(document, "rb") as stream:
        response = upload(api, meta, content=stream)

    assert response.status_code == 200
    assert response.content == b""
    [record] = sandbox.received()
    assert record["kind"] == "file"
    assert record["meta"] == meta
    assert record["filename"] == CYRILLIC_NAME
    assert record["content_type"] == "application/pdf"
    assert record["size"] == 300_000
    assert record["sha256"] == sha256_of_file(document)


def test_image_upload_recorded_as_image(sandbox, api):
    response = upload(api, file_meta(file_name="схема.png"), content=b"\x89PNG", filename="схема.png",
                      path="/v1/line/send/image", content_type="image/png")

    assert response.status_code == 200
    [record] = sandbox.received()
    assert record["kind"] == "image"
    assert record["content_type"] == "image/png"
    assert record["sha256"] == hashlib.sha256(b"\x89PNG").hexdigest()


def test_rfc2231_filename_decoded(sandbox):
    boundary = "sandbox-boundary-42"
    quoted = requests.utils.quote(CYRILLIC_NAME.encode("utf-8"), safe="")
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="meta"\r\n'
        "Content-Type: application/json\r\n\r\n"
        f"{json.dumps(file_meta())}\r\n"
        f"--{boundary}\r\n"
        f"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''{quoted}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
        "content\r\n"
        f"--{boundary}--\r\n"
    ).encode("utf-8")

    response = Client(sandbox.url).post(
        "/v1/line/send/file/", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )

    assert response.status_code == 200
    assert sandbox.received()[0]["filename"] == CYRILLIC_NAME
    assert sandbox.received()[0]["size"] == len(b"content")


def test_store_dir_keeps_file_copy(start_sandbox, tmp_path):
    store_dir = tmp_path / "store"
    sandbox = start_sandbox(store_dir=str(store_dir))

    upload(Client(sandbox.url), file_meta(), content=b"stored bytes")

    [record] = sandbox.received()
    stored = Path(record["stored_path"])
    assert stored.parent == store_dir
    assert stored.name == f"000001-{CYRILLIC_NAME}"
    assert stored.read_bytes() == b"stored bytes"
    assert [path.name for path in store_dir.iterdir()] == [stored.name]


@pytest.mark.parametrize(
    ("body", "error_part"),
    [
        (b"{not json", "Invalid JSON"),
        (b"[1, 2]", "expected an object"),
        (json.dumps({"line_id": LINE_ID, "user_id": SUBSCRIBER_ID}).encode(), "text is required"),
        (json.dumps(message(text="")).encode(), "non-empty"),
        (json.dumps(message(line_id="line-1")).encode(), "line_id must be a UUID"),
        (json.dumps(message(user_id=42)).encode(), "user_id must be a UUID"),
        (json.dumps(message(author_id="x")).encode(), "author_id must be a UUID"),
        (json.dumps(message(notification_only="yes")).encode(), "must be a boolean"),
        (json.dumps(message(keyboard="buttons")).encode(), "list of button rows"),
        (json.dumps(message(keyboard=[[{"id": "1"}]])).encode(), "with text"),
        (
            json.dumps(message(keyboard=[[{"text": "Да"}]], author_id=SPECIALIST_ID, bot_as_spec=True)).encode(),
            "Keyboard is not allowed",
        ),
        (json.dumps(message(keyboard=[[{"text": "Да"}]], notification_only=True)).encode(), "Keyboard is not allowed"),
        (json.dumps(message(bot_as_spec=True)).encode(), "author_id is required"),
    ],
)
def test_invalid_message_gets_400(sandbox, api, body, error_part):
    response = api.post("/v1/line/send/message/", data=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert error_part in response.json()["error"]
    assert sandbox.received() == []


def test_keyboard_without_flags_accepted(sandbox, api):
    keyboard = [[{"id": "ok", "text": "Получил"}, {"text": "Позвонить"}]]

    assert api.post("/v1/line/send/message/", json=message(keyboard=keyboard)).status_code == 200


@pytest.mark.parametrize(
    ("meta", "error_part"),
    [
        ("{broken", "Invalid JSON in meta part"),
        (file_meta(file_name=None), "file_name is required"),
        (file_meta(user_id="not-a-uuid"), "user_id must be a UUID"),
        (file_meta(comment=5), "comment must be a string"),
        (file_meta(bot_as_spec=True), "author_id is required"),
        (file_meta(keyboard=[[{"text": "Да"}]], notification_only=True), "Keyboard is not allowed"),
    ],
)
def test_invalid_meta_gets_400(sandbox, api, meta, error_part):
    response = upload(api, meta)

    assert response.status_code == 400
    assert error_part in response.json()["error"]


def test_upload_without_file_part_gets_400(sandbox, api):
    encoder = MultipartEncoder(fields={"meta": (None, json.dumps(file_meta()), "application/json")})

    response = api.post("/v1/line/send/file/", data=encoder, headers={"Content-Type": encoder.content_type})

    assert response.status_code == 400
    assert response.json() == {"error": "The file part is missing"}


def test_upload_without_meta_gets_400(sandbox, api):
    encoder = MultipartEncoder(fields={"file": ("a.pdf", b"data", "application/pdf")})

    response = api.post("/v1/line/send/file/", data=encoder, headers={"Content-Type": encoder.content_type})

    assert response.status_code == 400
    assert response.json() == {"error": "The meta part is missing"}


def test_upload_as_json_gets_400(sandbox, api):
    response = api.post("/v1/line/send/file/", json=file_meta())

    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["error"]


def test_truncated_multipart_gets_400(sandbox, api):
    body = b'--b\r\nContent-Disposition: form-data; name="meta"\r\n\r\n{}'

    response = api.post("/v1/line/send/file/", data=body, headers={"Content-Type": "multipart/form-data; boundary=b"})

    assert response.status_code == 400
    assert "Malformed multipart body" in response.json()["error"]


def test_non_subscriber_gets_403(sandbox, api):
    cases = [
        api.post("/v1/line/send/message/", json=message(user_id=UNKNOWN_ID)),
        api.post("/v1/line/send/message/", json=message(user_id=OTHER_LINE_SUBSCRIBER_ID)),
        api.post("/v1/line/send/message/", json=message(line_id=UNKNOWN_ID)),
        upload(api, file_meta(user_id=UNKNOWN_ID)),
    ]

    for response in cases:
        assert response.status_code == 403
        assert response.json() == {"error": "User is not a subscriber or never been online"}
    assert sandbox.received() == []


def test_non_specialist_author_gets_403(sandbox, api):
    response = api.post("/v1/line/send/message/", json=message(author_id=SUBSCRIBER_ID, bot_as_spec=True))

    assert response.status_code == 403


def test_oversized_file_gets_413(start_sandbox, tmp_path):
    store_dir = tmp_path / "store"
    sandbox = start_sandbox(max_file_bytes=1000, store_dir=str(store_dir))
    client = Client(sandbox.url)

    too_big = upload(client, file_meta(), content=b"x" * 5000)
    at_limit = upload(client, file_meta(), content=b"x" * 1000)

    assert too_big.status_code == 413
    assert "1000 bytes" in too_big.json()["error"]
    assert at_limit.status_code == 200
    assert [record["size"] for record in sandbox.received()] == [1000]
    assert len(list(store_dir.iterdir())) == 1


# --- rate limits ---------------------------------------------------------------------


class FakeClock:
    """Monotonic clock for the rate limiter that moves only when the test steps it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def limited_sandbox():
    """Start a sandbox limited to 5 requests a second and 8 a minute, on a fake clock."""
    clock = FakeClock()
    server = SandboxServer(make_config(rate_per_second=5, rate_per_minute=8), clock=clock).start()
    yield server, clock
    server.stop()


def test_burst_over_limit_gets_429(limited_sandbox):
    sandbox, clock = limited_sandbox
    client = Client(sandbox.url)

    responses = [client.get("/v1/line/") for _ in range(7)]

    statuses = [response.status_code for response in responses]
    assert statuses == [200] * 5 + [429] * 2
    assert responses[-1].headers["Retry-After"] == "1"
    assert responses[-1].json() == {"error": "Too many requests"}
    assert sandbox.stats()["rate_limited"] == 2
    assert sandbox.stats()["by_status"] == {200: 5, 429: 2}


def test_window_slides_after_one_second(limited_sandbox):
    sandbox, clock = limited_sandbox
    client = Client(sandbox.url)
    for _ in range(5):
        client.get("/v1/line/")

    clock.advance(0.999)
    still_full = client.get("/v1/line/")
    clock.advance(0.001)
    next_window = client.get("/v1/line/")

    assert still_full.status_code == 429
    assert next_window.status_code == 200


def test_client_at_exact_rate_never_limited(limited_sandbox):
    sandbox, clock = limited_sandbox
    client = Client(sandbox.url)

    statuses = []
    for _ in range(8):
        statuses.append(client.get("/v1/line/").status_code)
        clock.advance(0.2)

    assert statuses == [200] * 8
    assert sandbox.stats()["rate_limited"] == 0


def test_minute_limit_gets_429(limited_sandbox):
    sandbox, clock = limited_sandbox
    client = Client(sandbox.url)

    statuses = []
    for _ in range(8):
        statuses.append(client.get("/v1/line/").status_code)
        clock.advance(0.5)
    refused = client.get("/v1/line/")
    clock.advance(60.0)
    after_minute = client.get("/v1/line/")

    assert statuses == [200] * 8
    assert refused.status_code == 429
    # The first request was accepted 4 s ago, so it leaves the minute window in 56 s.
    assert refused.headers["Retry-After"] == "56"
    assert after_minute.status_code == 200


def test_retry_after_wait_is_enough(limited_sandbox):
    sandbox, clock = limited_sandbox
    client = Client(sandbox.url)
    for _ in range(5):
        client.get("/v1/line/")

    clock.advance(0.3)
    refused = client.get("/v1/line/")
    clock.advance(int(refused.headers["Retry-After"]))

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert client.get("/v1/line/").status_code == 200


def test_paced_client_never_gets_429(start_sandbox):
    sandbox = start_sandbox(rate_per_second=5, rate_per_minute=600)
    client = Client(sandbox.url)
    sent_at: list[float] = []

    for _ in range(10):
        # Keep at most 5 requests in any 1.05 s, a small margin over the 1 s window.
        if len(sent_at) >= 5:
            time.sleep(max(0.0, sent_at[-5] + 1.05 - time.monotonic()))
        sent_at.append(time.monotonic())
        assert client.get("/v1/line/").status_code == 200

    assert sandbox.stats()["rate_limited"] == 0


def test_unauthenticated_requests_not_rate_limited(start_sandbox):
    sandbox = start_sandbox(rate_per_second=2, rate_per_minute=600)
    anonymous = Client(sandbox.url, auth=None)

    statuses = [anonymous.get("/v1/line/").status_code for _ in range(5)]

    assert statuses == [401] * 5
    assert Client(sandbox.url).get("/v1/line/").status_code == 200


# --- faults and latency ----------------------------------------------------------------


def test_injected_faults_then_success(sandbox, api):
    sandbox.set_faults(status=500, count=2)

    statuses = [api.post("/v1/line/send/message/", json=message()).status_code for _ in range(3)]

    assert statuses == [500, 500, 200]
    assert len(sandbox.received()) == 1
    assert sandbox.stats()["faults_injected"] == 2


def test_fault_via_control_api_with_retry_after(sandbox, api, control):
    spec = {"status": 503, "count": 1, "retry_after": 7, "path_prefix": "/v1/line/send/"}
    assert control.post("/_sandbox/faults", json=spec).status_code == 200

    lookup = api.get("/v1/line/")
    failed = api.post("/v1/line/send/message/", json=message())
    retried = api.post("/v1/line/send/message/", json=message())

    assert lookup.status_code == 200
    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "7"
    assert retried.status_code == 200


def test_fault_on_upload_drains_body(sandbox, api):
    sandbox.set_faults(status=502, count=1, path_prefix="/v1/line/send/file")

    failed = upload(api, file_meta(), content=b"y" * 200_000)
    retried = upload(api, file_meta(), content=b"y" * 200_000)

    assert failed.status_code == 502
    assert retried.status_code == 200


def test_unlimited_fault_until_cleared(sandbox, api, control):
    control.post("/_sandbox/faults", json={"status": 429, "count": None, "retry_after": 2})

    statuses = [api.get("/v1/line/").status_code for _ in range(3)]
    control.delete("/_sandbox/faults")

    assert statuses == [429] * 3
    assert api.get("/v1/line/").status_code == 200


def test_invalid_fault_spec_gets_400(sandbox, control):
    for spec in ({"status": 99}, {"count": 0}, {"colour": "red"}, {"down": "yes"}, {"status": None}):
        response = control.post("/_sandbox/faults", json=spec)
        assert response.status_code == 400, spec
        assert response.json()["error"]


def test_down_switch_closes_connections(sandbox, api):
    sandbox.set_faults(down=True)

    with pytest.raises(requests.ConnectionError):
        api.get("/v1/line/")
    sandbox.clear_faults()

    assert api.get("/v1/line/").status_code == 200
    assert sandbox.stats()["dropped_connections"] == 1


def test_down_switch_503_mode(sandbox, api, control):
    control.post("/_sandbox/faults", json={"down": True, "mode": "503"})

    response = Client(sandbox.url, auth=None).get("/v1/line/")

    assert response.status_code == 503
    assert control.get("/_sandbox/stats").status_code == 200


def test_hang_triggers_client_read_timeout(sandbox, api):
    sandbox.set_faults(status=None, hang_seconds=30)

    with pytest.raises(requests.ReadTimeout):
        api.get("/v1/line/", timeout=(5, 0.3))

    assert api.get("/v1/line/", timeout=5).status_code == 200


def test_latency_delays_answers(start_sandbox):
    sandbox = start_sandbox(latency_ms=150)
    client = Client(sandbox.url)

    started = time.monotonic()
    response = client.get("/v1/line/")

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.15


# --- lookups ------------------------------------------------------------------------


def test_lines_list(sandbox, api):
    lines = api.get("/v1/line/").json()

    assert lines == [
        {"line_id": LINE_ID, "name": "Линия сопровождения", "allow_bot": True},
        {"line_id": OTHER_LINE_ID, "name": "Линия отдела кадров", "allow_bot": False},
    ]


def test_subscribers_are_user_objects(sandbox, api):
    subscribers = api.get("/v1/line/subscribers/").json()
    one = api.get(f"/v1/line/subscriber/{SUBSCRIBER_ID}/").json()

    assert [user["user_id"] for user in subscribers] == [SUBSCRIBER_ID, SECOND_SUBSCRIBER_ID, OTHER_LINE_SUBSCRIBER_ID]
    assert one["phone"] == "+7 (906) 555-45-67"
    assert one["email"] == "s.ivanov@romashka.example"
    expected_keys = {"user_id", "name", "surname", "patronymic", "avatar_url", "email", "post", "phone", "counterpart_id"}
    assert expected_keys <= set(subscribers[1])


def test_unknown_subscriber_gets_404(sandbox, api):
    assert api.get(f"/v1/line/subscriber/{UNKNOWN_ID}/").status_code == 404
    assert api.get("/v1/line/subscriber/not-a-uuid/").status_code == 400


def test_subscriptions_filters(sandbox, api):
    by_user = api.get("/v1/line/subscriptions/", params={"user_id": OTHER_LINE_SUBSCRIBER_ID}).json()
    by_line = api.get("/v1/line/subscriptions/", params={"line_id": LINE_ID}).json()

    assert [item["line_id"] for item in by_user] == [OTHER_LINE_ID]
    assert {item["user_id"] for item in by_line} == {SUBSCRIBER_ID, SECOND_SUBSCRIBER_ID}
    assert set(by_line[0]) == {"user_id", "line_id", "subscription_set", "subscription_expire_at"}


def test_specialist_lookups(sandbox, api):
    specialists = api.get("/v1/line/specialists/", params={"line_id": LINE_ID}).json()
    one = api.get(f"/v1/line/specialist/{SPECIALIST_ID}/")
    not_specialist = api.get(f"/v1/line/specialist/{SUBSCRIBER_ID}/")

    assert [user["user_id"] for user in specialists] == [SPECIALIST_ID]
    assert one.json()["surname"] == "Смирнова"
    assert not_specialist.status_code == 403
    assert not_specialist.content == b""


def test_unknown_path_and_method(sandbox, api):
    assert api.get("/v1/ticket/1/").status_code == 404
    assert api.get("/v1/line/send/message/").status_code == 405
    assert Client(sandbox.url).get("/other").status_code == 404


# --- hooks --------------------------------------------------------------------------


def test_hook_register_list_delete(sandbox, api, control):
    line_hook = {"type": "line", "url": "http://127.0.0.1:9/events/", "back_auth": {"type": "bearer", "token": "t0k"}}
    bot_hook = {"type": "bot", "id": LINE_ID, "url": "http://127.0.0.1:9/bot/"}

    first = api.post("/v1/hook/", json=line_hook)
    api.post("/v1/hook", json=bot_hook)
    lines = api.get("/v1/line/").json()

    assert first.status_code == 200
    assert first.content == b""
    assert lines[0]["hook_line"] == line_hook["url"]
    assert lines[0]["hook_bot"] == bot_hook["url"]
    assert "hook_bot" not in lines[1]
    assert len(control.get("/_sandbox/hooks").json()) == 2

    assert api.delete("/v1/hook/").status_code == 200
    assert [hook["type"] for hook in sandbox.hooks()] == ["bot"]
    assert api.delete(f"/v1/hook/bot/{LINE_ID}/").status_code == 200
    assert sandbox.hooks() == []


@pytest.mark.parametrize(
    ("hook", "status"),
    [
        ({"type": "chat", "url": "http://127.0.0.1:9/"}, 400),
        ({"type": "bot", "url": "http://127.0.0.1:9/"}, 400),
        ({"type": "line", "url": "ftp://127.0.0.1/"}, 400),
        ({"type": "line", "url": "http://127.0.0.1:9/", "back_auth": {"type": "basic", "login": "a"}}, 400),
        ({"type": "line", "url": "http://127.0.0.1:9/", "back_auth": {"type": "digest"}}, 400),
        ({"type": "line", "id": UNKNOWN_ID, "url": "http://127.0.0.1:9/"}, 403),
    ],
)
def test_invalid_hook_rejected(sandbox, api, hook, status):
    response = api.post("/v1/hook/", json=hook)

    assert response.status_code == status
    assert sandbox.hooks() == []


def test_emit_posts_with_bearer_token(sandbox, api, control, hook_receiver):
    api.post("/v1/hook/", json={"type": "line", "id": LINE_ID, "url": hook_receiver.url,
                                "back_auth": {"type": "bearer", "token": "feedback-secret"}})
    event = {"line_id": LINE_ID, "user_id": SUBSCRIBER_ID, "author_id": SUBSCRIBER_ID,
             "message_type": 1, "text": "Спасибо, получили! 5"}

    response = control.post("/_sandbox/emit", json=event)

    assert response.status_code == 200
    assert response.json()["deliveries"] == [
        {"url": hook_receiver.url, "type": "line", "id": LINE_ID, "status": 200, "error": None}
    ]
    [received] = hook_receiver.requests
    assert received["path"] == "/connect/events/"
    assert received["headers"]["Authorization"] == "Bearer feedback-secret"
    payload = json.loads(received["body"])
    assert payload["text"] == "Спасибо, получили! 5"
    assert payload["event_type"] == "line"
    assert payload["event_source"] == "line"
    assert re.fullmatch(r"[0-9a-f-]{36}", payload["message_id"])


def test_emit_with_basic_back_auth(sandbox, api, hook_receiver):
    api.post("/v1/hook/", json={"type": "line", "url": hook_receiver.url,
                                "back_auth": {"type": "basic", "login": "hook", "password": "пароль"}})

    results = sandbox.emit({"line_id": OTHER_LINE_ID, "message_type": 70})

    assert [result["status"] for result in results] == [200]
    header = hook_receiver.requests[0]["headers"]["Authorization"]
    assert header == "Basic " + base64.b64encode("hook:пароль".encode()).decode()


def test_emit_skips_hooks_of_other_lines(sandbox, api, hook_receiver):
    api.post("/v1/hook/", json={"type": "bot", "id": LINE_ID, "url": hook_receiver.url})

    assert sandbox.emit({"line_id": OTHER_LINE_ID, "message_type": 1}) == []
    assert sandbox.emit({"line_id": LINE_ID, "event_source": "line", "message_type": 1}) == []
    assert hook_receiver.requests == []


def test_emit_reports_target_status(sandbox, api):
    receiver = HookReceiver(status=500)
    try:
        api.post("/v1/hook/", json={"type": "line", "url": receiver.url})
        results = sandbox.emit({"line_id": LINE_ID, "message_type": 1})
    finally:
        receiver.stop()

    assert results[0]["status"] == 500


def test_emit_skips_non_loopback_target(sandbox, api):
    # 192.0.2.0/24 is TEST-NET-1 (RFC 5737). The sandbox must skip it before connecting.
    api.post("/v1/hook/", json={"type": "line", "url": "http://192.0.2.10/events/"})

    [result] = sandbox.emit({"line_id": LINE_ID, "message_type": 1})

    assert result["status"] is None
    assert "loopback" in result["error"]


# --- control API --------------------------------------------------------------------


def test_received_since_and_reset(sandbox, api, control):
    for text in ("один", "два", "три"):
        api.post("/v1/line/send/message/", json=message(text=text))
    sandbox.set_faults(status=500, count=5)
    sandbox.update_config(password="changed")

    later = control.get("/_sandbox/received", params={"since": 1}).json()
    reset = control.post("/_sandbox/reset")

    assert [record["meta"]["text"] for record in later] == ["два", "три"]
    assert [record["seq"] for record in later] == [2, 3]
    assert reset.status_code == 200
    assert sandbox.received() == []
    assert sandbox.stats()["total_requests"] == 0
    assert api.post("/v1/line/send/message/", json=message()).status_code == 200
    assert sandbox.received()[0]["seq"] == 1


def test_stats_counts_statuses(sandbox, api, control):
    api.get("/v1/line/")
    Client(sandbox.url, auth=None).get("/v1/line/")
    api.post("/v1/line/send/message/", json=message(user_id=UNKNOWN_ID))

    stats = control.get("/_sandbox/stats").json()

    assert stats["total_requests"] == 3
    assert stats["by_status"] == {"200": 1, "401": 1, "403": 1}
    assert stats["received"] == 0


def test_config_update_via_control_api(sandbox, control):
    response = control.request("PUT", "/_sandbox/config", json={"latency_ms": 5, "rate_per_second": 7})
    rejected = control.request("PUT", "/_sandbox/config", json={"port": 1})
    invalid = control.request("PUT", "/_sandbox/config", json={"rate_per_minute": -1})

    assert response.status_code == 200
    assert response.json()["rate_per_second"] == 7
    assert sandbox.state.config.latency_ms == 5
    assert rejected.status_code == 400
    assert "port" in rejected.json()["error"]
    assert invalid.status_code == 400


def test_unknown_control_path_gets_404(sandbox, control):
    assert control.get("/_sandbox/nothing").status_code == 404


# --- streaming and memory -----------------------------------------------------------


def read_rss_bytes() -> int:
    """Return the resident set size of this process (the sandbox runs in-thread here)."""
    status = Path("/proc/self/status").read_text()
    kilobytes = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1))
    return kilobytes * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc for VmRSS")
def test_large_upload_keeps_memory_flat(start_sandbox, tmp_path):
    size = 50 * 1024 * 1024
    document = tmp_path / "Акт сверки №7 «большой».bin"
    with open(document, "wb") as stream:
        for _ in range(size // (1024 * 1024)):
            stream.write(os.urandom(1024 * 1024))
    sandbox = start_sandbox(store_dir=str(tmp_path / "store"))
    client = Client(sandbox.url)
    upload(client, file_meta(), content=b"warm-up")

    peak = [read_rss_bytes()]
    baseline = peak[0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], read_rss_bytes())
            done.wait(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with open(document, "rb") as stream:
            response = upload(client, file_meta(file_name=document.name), content=stream, filename=document.name)
    finally:
        done.set()
        sampler.join()

    record = sandbox.received()[-1]
    assert response.status_code == 200
    assert record["size"] == size
    assert record["sha256"] == sha256_of_file(document)
    assert sha256_of_file(Path(record["stored_path"])) == record["sha256"]
    assert peak[0] - baseline < 20 * 1024 * 1024


def test_chunked_upload_any_split(start_sandbox):
    sandbox = start_sandbox()
    host, port = sandbox.url.removeprefix("http://").split(":")

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(content=st.binary(max_size=20_000), cuts=st.lists(st.integers(min_value=1, max_value=5000), max_size=12))
    def check(content: bytes, cuts: list[int]) -> None:
        encoder = MultipartEncoder(
            fields=[
                ("meta", (None, json.dumps(file_meta()), "application/json")),
                ("file", (CYRILLIC_NAME, content, "application/octet-stream")),
            ]
        )
        body = encoder.to_string()
        pieces, offset = [], 0
        for cut in cuts:
            pieces.append(body[offset:offset + cut])
            offset += cut
        pieces.append(body[offset:])

        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        headers = {"Content-Type": encoder.content_type, "Authorization": basic_auth_header()}
        connection.request("POST", "/v1/line/send/file/", body=iter([p for p in pieces if p]),
                           headers=headers, encode_chunked=True)
        response = connection.getresponse()
        response.read()
        connection.close()

        assert response.status == 200
        record = sandbox.received()[-1]
        assert record["sha256"] == hashlib.sha256(content).hexdigest()
        assert record["size"] == len(content)

    check()


def basic_auth_header() -> str:
    return "Basic " + base64.b64encode(f"{LOGIN}:{PASSWORD}".encode()).decode()


def test_keep_alive_connection_reused_after_error(sandbox, api):
    # A 400 must leave the connection usable, because the sandbox reads the whole body first.
    connection = http.client.HTTPConnection(*sandbox.url.removeprefix("http://").split(":"), timeout=10)
    headers = {"Authorization": basic_auth_header(), "Content-Type": "application/json"}

    connection.request("POST", "/v1/line/send/message/", body=b"{oops", headers=headers)
    first = connection.getresponse()
    first.read()
    connection.request("POST", "/v1/line/send/message/", body=json.dumps(message()).encode(), headers=headers)
    second = connection.getresponse()
    second.read()
    connection.close()

    assert first.status == 400
    assert second.status == 200


def test_aborted_upload_counted_not_recorded(start_sandbox, tmp_path):
    store_dir = tmp_path / "store"
    sandbox = start_sandbox(store_dir=str(store_dir))
    head = (
        "--b\r\n"
        'Content-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'
    ).encode() + b"z" * 50_000
    request_head = (
        "POST /v1/line/send/file/ HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        f"Authorization: {basic_auth_header()}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        "Content-Length: 1000000\r\n\r\n"
    ).encode()
    host, port = sandbox.url.removeprefix("http://").split(":")

    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request_head + head)
        wait_until(lambda: list(store_dir.glob(".incoming-*")))

    # The handler deletes the partial file before it counts the abort.
    wait_until(lambda: sandbox.stats()["aborted_by_client"] == 1)
    assert sandbox.received() == []
    assert sandbox.stats()["by_status"] == {}
    assert list(store_dir.iterdir()) == []


def test_bad_chunk_framing_closes_connection(sandbox):
    host, port = sandbox.url.removeprefix("http://").split(":")
    request = (
        "POST /v1/line/send/message/ HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        f"Authorization: {basic_auth_header()}\r\n"
        "Content-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
        "zz\r\n{}\r\n0\r\n\r\n"
    ).encode()

    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        reply = b""
        while chunk := connection.recv(65536):
            reply += chunk

    assert reply.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in reply
    assert b"Invalid chunk size line" in reply


def test_rejected_upload_leaves_no_stored_file(start_sandbox, tmp_path):
    store_dir = tmp_path / "store"
    sandbox = start_sandbox(store_dir=str(store_dir))

    response = upload(Client(sandbox.url), file_meta(user_id=UNKNOWN_ID), content=b"secret")

    assert response.status_code == 403
    assert list(store_dir.iterdir()) == []


def test_duplicate_file_part_gets_400(sandbox, api):
    encoder = MultipartEncoder(
        fields=[
            ("meta", (None, json.dumps(file_meta()), "application/json")),
            ("file", ("a.pdf", b"one", "application/pdf")),
            ("file", ("b.pdf", b"two", "application/pdf")),
        ]
    )

    response = api.post("/v1/line/send/file/", data=encoder, headers={"Content-Type": encoder.content_type})

    assert response.status_code == 400
    assert response.json() == {"error": "Duplicate file part"}


def test_concurrent_sends_get_unique_seq(sandbox):
    def send(number: int) -> int:
        return Client(sandbox.url).post("/v1/line/send/message/", json=message(text=f"№{number}")).status_code

    statuses: list[int] = []
    threads = [threading.Thread(target=lambda n=n: statuses.append(send(n))) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    records = sandbox.received()
    assert statuses == [200] * 20
    assert [record["seq"] for record in records] == list(range(1, 21))
    assert {record["meta"]["text"] for record in records} == {f"№{number}" for number in range(20)}


def test_server_as_context_manager():
    with SandboxServer(make_config()) as server:
        url = server.url
        status = Client(url).get("/v1/line/").status_code

    assert status == 200
    with pytest.raises(requests.ConnectionError):
        Client(url).get("/v1/line/", timeout=5)


# --- configuration and CLI ----------------------------------------------------------


def test_demo_config_has_line_and_subscribers():
    config = SandboxConfig.demo()

    assert len(config.lines) == 1
    assert len(config.specialists) >= 1
    assert len(config.subscribers) >= 4
    assert all(user["email"] and user["phone"] for user in config.subscribers)


def test_config_rejects_bad_values():
    with pytest.raises(SandboxConfigError, match="host"):
        make_config(host="0.0.0.0")
    with pytest.raises(SandboxConfigError, match="colour"):
        make_config(colour="red")
    with pytest.raises(SandboxConfigError, match="rate_per_second"):
        make_config(rate_per_second=-1)
    with pytest.raises(SandboxConfigError, match="UUID"):
        make_config(lines=[{"line_id": "line-1", "name": "x"}], subscriptions=[])


def test_config_from_file(tmp_path):
    path = tmp_path / "sandbox.json"
    path.write_text("\ufeff" + json.dumps({"login": "файл", "password": "p"}), encoding="utf-8")

    config = SandboxConfig.from_file(path, latency_ms=3)

    assert config.login == "файл"
    assert config.latency_ms == 3


@pytest.mark.timeout(60)
def test_cli_starts_and_stops_on_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "delivery.sandbox", "--listen", "127.0.0.1:0", "--latency-ms", "1"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", banner).group(0)
        demo = SandboxConfig.demo()
        lines = Client(url, auth=(demo.login, demo.password)).get("/v1/line/")
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=30)
        stderr = process.stderr.read()

    assert "песочница" in banner.lower()
    assert "не настоящий 1С-Коннект" in banner
    assert lines.status_code == 200
    assert exit_code == 0
    assert "остановлена" in stderr


@pytest.mark.timeout(60)
def test_cli_rejects_non_loopback_host():
    result = subprocess.run(
        [sys.executable, "-m", "delivery.sandbox", "--listen", "0.0.0.0:8086"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert "обратной петли" in result.stderr
