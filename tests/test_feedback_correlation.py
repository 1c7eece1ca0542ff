"""Correlation of replies with deliveries (real redis-server) and the feedback records."""

import json
from datetime import datetime, timedelta, timezone

from delivery.folders import CourierFolders
from delivery.status import DocumentState, read_status, write_status
from feedback.correlation import (
    DeliveredDocument,
    deliveries_key,
    match,
    recent_deliveries,
    remember_delivery,
)
from feedback.events import client_message
from feedback.rating import parse_reply
from feedback.records import build_record, read_records, update_status_feedback, write_record

LINE_ID = "80900fec-31a1-406d-aae4-c7969d9be6e1"
USER_ID = "74d86855-d410-4883-bfab-a96e905f0ead"
# Real time, because remember_delivery trims entries older than the window from now.
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def document(number, *, asked=True, title=None, drop_id="20261204-120000-000000-aaaaaa",
             document_id=None):
    return DeliveredDocument(document_id=document_id or f"doc-{number}", number=number,
                             title=title, drop_id=drop_id, delivered_at=NOW.isoformat(),
                             feedback_asked=asked)


def remember(redis_client, number, delivered_at, *, asked=True, user_id=USER_ID, drop_id=None):
    remember_delivery(redis_client, line_id=LINE_ID, user_id=user_id,
                      document_id=f"doc-{number}", number=number,
                      title=f"Проект договора № {number}",
                      drop_id=drop_id or f"{delivered_at:%Y%m%d-%H%M%S}-000000-{number}",
                      delivered_at=delivered_at.isoformat(), feedback_asked=asked,
                      window_days=14)


def test_match_prefers_mentioned_number():
    newest, older = document("18"), document("17")

    assert match("по договору 17 есть замечания", [newest, older]) is older


def test_match_number_without_leading_zeros_and_prefix():
    invoice, other = document("БП-000123", asked=False), document("БП-000200")

    assert match("счёт 123 оплатим", [other, invoice]) is invoice
    assert match("по БП-000123 всё ок", [other, invoice]) is invoice
    assert match("бп-000123", [other, invoice]) is invoice


def test_match_ignores_number_inside_longer_token():
    newest, older = document("18"), document("17", asked=False)

    assert match("звонил 8-917-555 и 2017 году", [newest, older]) is newest
    assert match("от 17.12 получили", [newest, older]) is newest


def test_match_by_full_title():
    titled = document("", title="Табель выполненных работ от 30.11.2026", asked=False)
    newest = document("19")

    assert match("по табелю выполненных работ от 30.11.2026 вопросов нет",
                 [newest, titled]) is newest
    assert match("Табель выполненных работ от 30.11.2026 — согласовано",
                 [newest, titled]) is titled


def test_match_falls_back_to_latest_asking_feedback():
    invoice, contract = document("БП-7", asked=False), document("21")

    assert match("оценка 4", [invoice, contract]) is contract


def test_match_falls_back_to_most_recent():
    newest, older = document("БП-8", asked=False), document("БП-7", asked=False)

    assert match("спасибо", [newest, older]) is newest


def test_match_without_deliveries():
    assert match("оценка 5", []) is None


def test_recent_deliveries_newest_first_within_window(redis_client):
    remember(redis_client, "15", NOW - timedelta(days=15))
    remember(redis_client, "16", NOW - timedelta(days=3))
    remember(redis_client, "17", NOW - timedelta(days=1))

    found = recent_deliveries(redis_client, LINE_ID, USER_ID, replied_at=NOW, window_days=14)

    assert [item.number for item in found] == ["17", "16"]
    assert found[0].title == "Проект договора № 17"
    assert found[0].feedback_asked is True


def test_recent_deliveries_exclude_later_deliveries(redis_client):
    remember(redis_client, "17", NOW + timedelta(hours=1))

    found = recent_deliveries(redis_client, LINE_ID, USER_ID, replied_at=NOW, window_days=14)

    assert found == []


def test_recent_deliveries_same_second_ordered_by_drop_id(redis_client):
    remember(redis_client, "30", NOW, drop_id="20261204-120000-000001-aaaaaa")
    remember(redis_client, "31", NOW, drop_id="20261204-120000-000002-bbbbbb")

    found = recent_deliveries(redis_client, LINE_ID, USER_ID, replied_at=NOW, window_days=14)

    assert [item.number for item in found] == ["31", "30"]


def test_deliveries_kept_per_line_and_user(redis_client):
    remember(redis_client, "40", NOW, user_id="b200ad42-50c7-4b27-a045-ffa797177078")

    assert recent_deliveries(redis_client, LINE_ID, USER_ID, replied_at=NOW,
                             window_days=14) == []


def test_deliveries_key_expires_after_window(redis_client):
    remember(redis_client, "50", datetime.now(timezone.utc))

    ttl = redis_client.ttl(deliveries_key(LINE_ID, USER_ID))

    assert 13 * 86400 < ttl <= 14 * 86400 + 300


def test_record_written_and_status_updated(tmp_path):
    folders = CourierFolders(tmp_path)
    folders.ensure()
    write_status(folders, "doc-17", DocumentState.DELIVERED, drop_id="drop-1")
    message = client_message({
        "event_type": "line", "line_id": LINE_ID, "user_id": USER_ID, "author_id": USER_ID,
        "message_id": "7c2f0b8e-5a4d-4f1e-9b3c-2d1e0f9a8b7c", "message_type": 1,
        "message_time": "2026-12-04T12:05:00Z", "text": "Согласовано, оценка 5"})

    record = build_record(message, parse_reply(message.text), document("17"), [])
    path = write_record(folders, record)

    assert path == tmp_path / "feedback" / "doc-17" / f"{message.message_id}.json"
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["rating"] == 5
    assert stored["verdict"] == "approved"
    assert stored["text"] == "Согласовано, оценка 5"
    assert not list(path.parent.glob(".*"))

    assert update_status_feedback(folders, record) is True
    status = read_status(folders, "doc-17")
    assert status["state"] == "delivered"
    assert status["drop_id"] == "drop-1"
    assert status["feedback"]["rating"] == 5
    assert status["feedback"]["file"] == f"feedback/doc-17/{message.message_id}.json"


def test_older_reply_does_not_replace_newer_in_status(tmp_path):
    folders = CourierFolders(tmp_path)
    folders.ensure()
    write_status(folders, "doc-17", DocumentState.DELIVERED)
    newer = {"document_id": "doc-17", "message_id": "m2", "rating": 2,
             "time": "2026-12-04T12:10:00+00:00"}
    older = {"document_id": "doc-17", "message_id": "m1", "rating": 5,
             "time": "2026-12-04T12:05:00+00:00"}
    write_record(folders, newer)
    write_record(folders, older)

    assert update_status_feedback(folders, newer) is True
    assert update_status_feedback(folders, older) is False

    assert read_status(folders, "doc-17")["feedback"]["message_id"] == "m2"
    assert [item["message_id"] for item in read_records(folders, "doc-17")] == ["m1", "m2"]


def test_status_rewrite_keeps_feedback(tmp_path):
    folders = CourierFolders(tmp_path)
    folders.ensure()
    write_status(folders, "doc-17", DocumentState.DELIVERED)
    update_status_feedback(folders, {"document_id": "doc-17", "message_id": "m1",
                                     "rating": 4, "time": "2026-12-04T12:05:00+00:00"})

    write_status(folders, "doc-17", DocumentState.SENDING)

    assert read_status(folders, "doc-17")["feedback"]["rating"] == 4


def test_missing_status_file_left_alone(tmp_path):
    folders = CourierFolders(tmp_path)
    folders.ensure()

    updated = update_status_feedback(folders, {"document_id": "doc-99", "message_id": "m1",
                                               "time": "2026-12-04T12:05:00+00:00"})

    assert updated is False
    assert not (tmp_path / "status" / "doc-99.json").exists()
