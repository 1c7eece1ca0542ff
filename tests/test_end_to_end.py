"""End to end: drops written as 1C writes them reach the sandbox byte for byte."""

import json

import pytest

from tests.conftest import LINE_ID, SUBSCRIBERS
from tests.drops import (
    fake_pdf,
    new_document_id,
    sha256_bytes,
    wait_for_state,
    write_drop,
)
from tests.processes import wait_for

IVANOV = SUBSCRIBERS[0]
KUZNETSOVA = SUBSCRIBERS[1]


def uploads_for(sandbox, document_name):
    return [record for record in sandbox.received()
            if record.get("meta", {}).get("file_name") == document_name]


@pytest.mark.usefixtures("worker", "watcher")
def test_drops_as_1c_writes_them(sandbox, courier_root):
    inbox = courier_root / "inbox"
    invoice_name = "Счёт № БП-000123 от 04.12.2026 для ООО «Ромашка».pdf"
    invoice = fake_pdf("invoice", 70_000)
    invoice_id = new_document_id()
    write_drop(inbox, "Счёт № БП-000123", {
        "document_id": invoice_id, "kind": "invoice", "number": "БП-000123",
        "date": "2026-12-04", "client": {"name": "ООО «Ромашка»", "inn": "7701234567"},
        "comment": "Счёт на оплату услуг за ноябрь",
        "recipients": [
            {"user_id": IVANOV["user_id"], "comment": "Просим оплатить до 10.12"},
            {"email": KUZNETSOVA["email"].upper(), "comment": "Для ознакомления"},
        ],
        "files": [invoice_name],
    }, {invoice_name: invoice}, bom=True, crlf=True, tabs=True)

    contract_id = new_document_id()
    docx, pdf = b"PK\x03\x04 docx body" * 500, fake_pdf("contract")
    write_drop(inbox, "Договор 17", {
        "document_id": contract_id, "kind": "contract", "number": "17",
        "recipients": [{"phone": "8 (906) 555-45-67"}],
    }, {"Договор 17.docx": docx, "Договор 17.pdf": pdf}, encoding="cp1251")

    task_id = new_document_id()
    write_drop(inbox, "Задача 5", {
        "document_id": task_id, "kind": "task", "files": [],
        "comment": "Проверьте, пожалуйста, табель за ноябрь",
        "recipients": [{"user_id": KUZNETSOVA["user_id"]}],
    })

    for document_id in (invoice_id, contract_id, task_id):
        status = wait_for_state(courier_root, document_id, {"delivered"})
        assert all(item["state"] == "delivered" for item in status["recipients"])

    invoice_uploads = uploads_for(sandbox, invoice_name)
    assert len(invoice_uploads) == 2
    assert {item["sha256"] for item in invoice_uploads} == {sha256_bytes(invoice)}
    by_user = {item["meta"]["user_id"]: item["meta"] for item in invoice_uploads}
    assert set(by_user) == {IVANOV["user_id"], KUZNETSOVA["user_id"]}
    assert by_user[IVANOV["user_id"]]["comment"] == "Просим оплатить до 10.12"
    assert by_user[KUZNETSOVA["user_id"]]["comment"] == "Для ознакомления"
    assert all(meta["line_id"] == LINE_ID for meta in by_user.values())
    assert all(meta["notification_only"] is True for meta in by_user.values())

    docx_upload, = uploads_for(sandbox, "Договор 17.docx")
    pdf_upload, = uploads_for(sandbox, "Договор 17.pdf")
    assert docx_upload["sha256"] == sha256_bytes(docx)
    assert pdf_upload["sha256"] == sha256_bytes(pdf)
    assert docx_upload["meta"]["user_id"] == IVANOV["user_id"]
    assert "Оцените" in docx_upload["meta"]["comment"]
    assert "comment" not in pdf_upload["meta"]

    messages = [item for item in sandbox.received() if item["path"].startswith(
        "/v1/line/send/message")]
    assert [item["meta"]["text"] for item in messages] == [
        "Проверьте, пожалуйста, табель за ноябрь"]

    sent = list((courier_root / "sent").glob("*/*/receipt.json"))
    assert len(sent) == 3
    assert not list((courier_root / "inbox").iterdir())
    assert not list((courier_root / "work").iterdir())


@pytest.mark.usefixtures("worker", "watcher")
def test_malformed_sidecar_fails_with_reason(courier_root):
    inbox = courier_root / "inbox"
    (inbox / "Акт 9.pdf").write_bytes(fake_pdf("act"))
    (inbox / "Акт 9.json").write_text('{"document_id": "3f2c9a4e-5b1d-4c1e-9a57', "utf-8")

    error_file = wait_for(lambda: next((courier_root / "failed").glob("*/error.json"), None),
                          30, message="error.json in failed/")
    error = json.loads(error_file.read_text(encoding="utf-8"))
    assert "Акт 9.json" in error["message"]
    assert "неверный JSON" in error["message"]
    assert (error_file.parent / "Акт 9.pdf").exists()
    assert not list(inbox.iterdir())


@pytest.mark.usefixtures("watcher")
def test_claimed_drop_reported_queued(courier_root, redis_client):
    document_id = new_document_id()
    write_drop(courier_root / "inbox", "Счёт 42", {
        "document_id": document_id, "kind": "invoice", "number": "42",
        "recipients": [{"user_id": IVANOV["user_id"]}],
    }, {"Счёт 42.pdf": fake_pdf("invoice-42")})

    status = wait_for_state(courier_root, document_id, {"queued"}, timeout=30)

    assert status["drop_id"]
    assert (courier_root / "work" / status["drop_id"] / "claim.json").exists()
    # The watcher writes the status before it sends the task, so wait for the task too.
    wait_for(lambda: redis_client.llen("courier") == 1, 10, message="the queued task")
