"""Client feedback end to end: the sandbox posts webhook events to the running receiver.

Real parts only: redis-server, the sandbox, `python -m feedback` on a loopback port with
the hook it registered at start, a Celery worker and the watcher delivering drops.
"""

import base64
import json
import secrets
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from feedback.correlation import deliveries_key
from feedback.hooks import HookClient
from tests.conftest import AUTHOR_ID, DEMO, LINE_ID, SUBSCRIBERS
from tests.drops import fake_pdf, new_document_id, write_drop
from tests.processes import feedback_cli, feedback_receiver, free_port, wait_for

IVANOV = SUBSCRIBERS[0]["user_id"]
KUZNETSOVA = SUBSCRIBERS[1]["user_id"]


@pytest.fixture
def feedback_token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
def receiver_url() -> str:
    return f"http://127.0.0.1:{free_port()}/connect/events/"


@pytest.fixture
def courier_env(courier_env, feedback_token, receiver_url) -> dict:
    """The shared environment plus the receiver's settings; DEBUG shows ignored events."""
    listen = receiver_url.split("/")[2]
    return {**courier_env, "FEEDBACK_TOKEN": feedback_token, "FEEDBACK_LISTEN": listen,
            "FEEDBACK_PUBLIC_URL": receiver_url, "LOG_LEVEL": "DEBUG"}


@pytest.fixture
def receiver(courier_env, tmp_path, sandbox, receiver_url, feedback_token):
    """`python -m feedback`, started once it has registered its hook in the sandbox."""
    process = feedback_receiver(courier_env, tmp_path / "receiver.log").start()
    process.wait_for_output("зарегистрирован в 1С-Коннект", timeout=30)
    hook, = sandbox.hooks()
    assert hook == {"type": "line", "id": LINE_ID, "url": receiver_url,
                    "back_auth": {"type": "bearer", "token": feedback_token}}
    yield process
    process.stop()


@pytest.fixture
def stack(receiver, worker, watcher):
    """Receiver, worker and watcher together; yields the receiver."""
    return receiver


def deliver(courier_root, redis_client, *, number, kind="contract", user_id=IVANOV,
            feedback=None) -> str:
    """Drop a document into the inbox, wait until it is delivered and remembered."""
    document_id = new_document_id()
    key = deliveries_key(LINE_ID, user_id)
    remembered_before = redis_client.zcard(key)
    sidecar = {"document_id": document_id, "kind": kind, "number": number,
               "recipients": [{"user_id": user_id}]}
    if feedback is not None:
        sidecar["feedback"] = feedback
    stem = f"{kind} {number} {document_id[:8]}"
    write_drop(courier_root / "inbox", stem, sidecar, {f"{stem}.pdf": fake_pdf(stem)})

    wait_for(lambda: (read_status(courier_root, document_id) or {}).get("state") == "delivered",
             60, interval=0.1, message=f"{document_id} delivered")
    wait_for(lambda: redis_client.zcard(key) > remembered_before, 10,
             message=f"delivery of {document_id} remembered")
    return document_id


def client_event(text, *, user_id=IVANOV, author_id=None, message_type=1, sent_at=None,
                 **extra) -> dict:
    """A line event shaped as 1C-Connect posts it for a message in the client's chat."""
    sent_at = sent_at or datetime.now(timezone.utc)
    event = {"event_type": "line", "event_source": "line", "line_id": LINE_ID,
             "user_id": user_id, "author_id": author_id or user_id,
             "message_id": str(uuid.uuid4()), "message_type": message_type,
             "message_time": sent_at.isoformat().replace("+00:00", "Z"),
             "treatment_id": str(uuid.uuid4()), "text": text}
    event.update(extra)
    return event


def emit(sandbox, event) -> int:
    """Have the sandbox post the event to the receiver; return the receiver's status."""
    result, = sandbox.emit(event)
    return result["status"]


def read_status(courier_root, document_id):
    path = courier_root / "status" / f"{document_id}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def feedback_file(courier_root, document_id, message_id):
    return courier_root / "feedback" / document_id / f"{message_id}.json"


def wait_for_feedback(courier_root, document_id, message_id) -> dict:
    path = feedback_file(courier_root, document_id, message_id)
    wait_for(path.exists, 30, message=f"feedback file {path.name}")
    return json.loads(path.read_text(encoding="utf-8"))


def all_feedback_files(courier_root):
    return sorted((courier_root / "feedback").glob("*/*.json"))


def test_contract_reply_becomes_feedback(stack, sandbox, courier_root, redis_client,
                                         courier_env, worker):
    document_id = deliver(courier_root, redis_client, number="17")
    upload, = sandbox.received()
    assert "Оцените" in upload["meta"]["comment"]

    event = client_event("Согласовано, оценка 5")
    assert emit(sandbox, event) == 200
    record = wait_for_feedback(courier_root, document_id, event["message_id"])

    assert record["rating"] == 5
    assert record["verdict"] == "approved"
    assert record["comment"] == ""
    assert record["text"] == "Согласовано, оценка 5"
    assert record["author"] == {"user_id": IVANOV}
    assert record["number"] == "17"
    assert record["document_id"] == document_id
    assert record["time"].startswith(event["message_time"][:19])

    status = read_status(courier_root, document_id)
    assert status["state"] == "delivered"
    assert status["feedback"]["rating"] == 5
    assert status["feedback"]["verdict"] == "approved"
    assert status["feedback"]["message_id"] == event["message_id"]
    assert status["feedback"]["file"] == f"feedback/{document_id}/{event['message_id']}.json"

    printed = feedback_cli(courier_env, "feedback", document_id)
    assert printed.returncode == 0, printed.stderr
    assert "Оценка: 5" in printed.stdout
    assert "Решение: согласовано" in printed.stdout
    assert event["message_id"] in printed.stdout


def test_reply_naming_number_goes_to_that_document(stack, sandbox, courier_root,
                                                   redis_client):
    contract_17 = deliver(courier_root, redis_client, number="17")
    deliver(courier_root, redis_client, number="18")

    event = client_event("По договору 17 есть замечания по п.3")
    assert emit(sandbox, event) == 200
    record = wait_for_feedback(courier_root, contract_17, event["message_id"])

    assert record["verdict"] == "objections"
    assert record["rating"] is None
    assert record["comment"] == "По договору 17 есть замечания по п.3"
    assert all_feedback_files(courier_root) == [
        feedback_file(courier_root, contract_17, event["message_id"])]


def test_reply_goes_to_latest_document_by_recency(stack, sandbox, courier_root,
                                                  redis_client):
    contract = deliver(courier_root, redis_client, number="21")
    deliver(courier_root, redis_client, number="БП-7", kind="invoice")
    deliver(courier_root, redis_client, number="БП-8", kind="invoice", user_id=KUZNETSOVA)
    latest_invoice = deliver(courier_root, redis_client, number="БП-9", kind="invoice",
                             user_id=KUZNETSOVA)

    rating_reply = client_event("оценка 4")
    assert emit(sandbox, rating_reply) == 200
    record = wait_for_feedback(courier_root, contract, rating_reply["message_id"])
    assert record["rating"] == 4

    thanks_reply = client_event("Спасибо, получили", user_id=KUZNETSOVA)
    assert emit(sandbox, thanks_reply) == 200
    record = wait_for_feedback(courier_root, latest_invoice, thanks_reply["message_id"])
    assert record["rating"] is None
    assert record["comment"] == "Спасибо, получили"


def test_duplicate_event_recorded_once(stack, sandbox, courier_root, redis_client, worker):
    document_id = deliver(courier_root, redis_client, number="22")
    event = client_event("★★★★☆")

    assert emit(sandbox, event) == 200
    assert emit(sandbox, event) == 200
    record = wait_for_feedback(courier_root, document_id, event["message_id"])

    assert record["rating"] == 4
    assert f"Событие {event['message_id']} пришло повторно" in stack.output()
    recorded = f"записан отзыв {event['message_id']}"
    wait_for(lambda: recorded in worker.output(), 10, message="the worker's record line")
    assert worker.output().count(recorded) == 1
    assert len(all_feedback_files(courier_root)) == 1


def test_wrong_token_rejected_401(receiver, sandbox, feedback_token, receiver_url):
    client = HookClient(sandbox.url, DEMO.login, DEMO.password)
    wrong_token = secrets.token_urlsafe(24)
    client.register(receiver_url, wrong_token, LINE_ID)
    assert emit(sandbox, client_event("оценка 5")) == 401

    requests.post(f"{sandbox.url}/v1/hook/", auth=(DEMO.login, DEMO.password), timeout=10,
                  json={"type": "line", "id": LINE_ID, "url": receiver_url}).raise_for_status()
    assert emit(sandbox, client_event("оценка 5")) == 401

    basic = base64.b64encode(f"courier:{feedback_token}".encode()).decode()
    response = requests.post(receiver_url, json=client_event("оценка 5"), timeout=10,
                             headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")

    output = receiver.output()
    assert "отклонён (401)" in output
    assert feedback_token not in output
    assert wrong_token not in output


def test_oversized_body_rejected_413(receiver, sandbox, feedback_token, receiver_url):
    huge = client_event("я" * 200_000)

    assert emit(sandbox, huge) == 413

    response = requests.post(receiver_url, data=b"{" + b" " * 3_000_000 + b"}", timeout=10,
                             headers={"Authorization": f"Bearer {feedback_token}",
                                      "Content-Type": "application/json"})
    assert response.status_code == 413
    assert "отклонён (413)" in receiver.output()
    assert receiver.alive()


def test_invalid_json_rejected_400(receiver, feedback_token, receiver_url):
    headers = {"Authorization": f"Bearer {feedback_token}"}

    for body in (b"{not json", b"[1, 2]", "\"строка\"".encode(), b"\xff\xfe"):
        response = requests.post(receiver_url, data=body, headers=headers, timeout=10)
        assert response.status_code == 400, body

    bad_type = client_event("оценка 5", message_type="1")
    response = requests.post(receiver_url, json=bad_type, headers=headers, timeout=10)
    assert response.status_code == 400
    assert "message_type" in response.json()["error"]


def test_specialist_and_system_events_ignored(stack, sandbox, courier_root, redis_client,
                                              worker):
    document_id = deliver(courier_root, redis_client, number="23")
    specialist = client_event("оценка 5", author_id=AUTHOR_ID)
    closed = client_event(None, message_type=82)
    del closed["author_id"], closed["text"]
    subscriber = {"event_type": "subscriber", "action": "update", "line_id": LINE_ID,
                  "message_id": str(uuid.uuid4()), "user": {"user_id": IVANOV}}

    for event in (specialist, closed, subscriber):
        assert emit(sandbox, event) == 200
        stack.wait_for_output(f"Событие {event['message_id']} пропущено", timeout=10)

    client = client_event("оценка 3")
    assert emit(sandbox, client) == 200
    wait_for_feedback(courier_root, document_id, client["message_id"])
    assert all_feedback_files(courier_root) == [
        feedback_file(courier_root, document_id, client["message_id"])]
    for event in (specialist, closed, subscriber):
        assert event["message_id"] not in worker.output()


def test_reply_after_window_ignored(stack, sandbox, courier_root, redis_client, worker):
    deliver(courier_root, redis_client, number="24")
    late = client_event("Согласовано, оценка 5",
                        sent_at=datetime.now(timezone.utc) + timedelta(days=15))
    early = client_event("оценка 2", sent_at=datetime.now(timezone.utc) - timedelta(days=1))

    for event in (late, early):
        assert emit(sandbox, event) == 200
        worker.wait_for_output(f"Событие {event['message_id']} пропущено", timeout=30)

    assert all_feedback_files(courier_root) == []


class FileServer:
    """A loopback HTTP server that serves one client file behind HTTP Basic auth."""

    def __init__(self, content: bytes, login: str, password: str):
        self.requests = []
        expected = "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append(self.path)
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server():
    server = FileServer(fake_pdf("протокол разногласий", 50_000), DEMO.login, DEMO.password)
    yield server
    server.stop()


def test_client_file_stored_next_to_feedback(stack, sandbox, courier_root, redis_client,
                                             file_server):
    document_id = deliver(courier_root, redis_client, number="25")
    file_id = str(uuid.uuid4())
    event = client_event(None, message_type=70, file={
        "file_id": file_id, "file_path": f"{file_server.url}/files/{file_id}",
        "file_name": "../Протокол разногласий.pdf", "file_size": 50_000,
        "comment": "Есть замечания, см. протокол", "preview_link": "x" * 5000})
    del event["text"]

    assert emit(sandbox, event) == 200
    record = wait_for_feedback(courier_root, document_id, event["message_id"])

    assert record["verdict"] == "objections"
    assert record["comment"] == "Есть замечания, см. протокол"
    stored, = record["files"]
    assert stored["size"] == 50_000
    assert stored["path"] == (f"feedback/{document_id}/{event['message_id']}/"
                              "Протокол разногласий.pdf")
    assert (courier_root / stored["path"]).read_bytes() == fake_pdf("протокол разногласий",
                                                                     50_000)
    assert file_server.requests == [f"/files/{file_id}"]


def test_client_file_on_foreign_host_skipped(stack, sandbox, courier_root, redis_client):
    document_id = deliver(courier_root, redis_client, number="26")
    event = client_event("оценка 4", message_type=70, file={
        "file_id": "f1", "file_path": "https://files.example.invalid/f1",
        "file_name": "акт.pdf", "file_size": 100})

    assert emit(sandbox, event) == 200
    record = wait_for_feedback(courier_root, document_id, event["message_id"])

    assert record["rating"] == 4
    skipped, = record["files"]
    assert skipped["path"] is None
    assert "CONNECT_BASE_URL" in skipped["error"]
    assert not (courier_root / "feedback" / document_id / event["message_id"]).exists()
