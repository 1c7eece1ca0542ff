"""Sentry events from a real worker carry the error and ids, never secrets or personal data."""

import pytest

from config.sentry import Scrubber
from tests.conftest import DEMO
from tests.drops import fake_pdf, new_document_id, write_drop
from tests.fake_sentry import FakeSentry
from tests.processes import celery_worker, wait_for

PLANTED_EMAIL = "secret.person@romashka.example"
PLANTED_INN = "7701234567"
PLANTED_PHONE = "+7 (912) 345-67-89"


@pytest.fixture
def fake_sentry():
    server = FakeSentry().start()
    yield server
    server.stop()


def test_scrubber_removes_personal_data():
    scrubber = Scrubber(["s3cret-password"])
    text = scrubber.text(f"{PLANTED_EMAIL} {PLANTED_PHONE} ИНН {PLANTED_INN} s3cret-password")
    assert PLANTED_EMAIL not in text
    assert "345-67-89" not in text
    assert PLANTED_INN not in text
    assert "s3cret-password" not in text


def test_scrubber_keeps_ids():
    scrubber = Scrubber([])
    text = "Дроп 20261204-201855-371403-78cc8c, документ 3f2c9a4e-5b1d-4c1e-9a57-0c2f7e1d8b21"
    assert scrubber.text(text) == text


def test_final_failure_reaches_sentry_scrubbed(courier_env, courier_root, fake_sentry,
                                               tmp_path, watcher):
    env = {**courier_env, "SENTRY_DSN": fake_sentry.dsn, "SENTRY_ENVIRONMENT": "test"}
    worker = celery_worker(env, tmp_path / "sentry-worker.log").start()
    try:
        worker.wait_for_output("ready.", timeout=60)
        document_id = new_document_id()
        write_drop(courier_root / "inbox", "Акт 77", {
            "document_id": document_id, "kind": "act", "number": "77",
            "client": {"name": "ООО «Ромашка»", "inn": PLANTED_INN},
            "comment": f"Позвоните {PLANTED_PHONE}",
            "recipients": [{"email": PLANTED_EMAIL}],
        }, {"Акт 77.pdf": fake_pdf("act-77")})

        events = wait_for(fake_sentry.events, 60, interval=0.2, message="a Sentry event")
    finally:
        worker.stop()

    event, = [item for item in events if item.get("tags", {}).get("document_id") == document_id]
    assert event["tags"]["drop_id"]
    assert event["environment"] == "test"
    assert event["release"].startswith("connect-courier@")
    raw = fake_sentry.raw()
    for planted in (PLANTED_EMAIL, PLANTED_INN, "345-67-89", DEMO.password):
        assert planted not in raw
