"""The admin commands `celery -A tasks courier …`, run as subprocesses against real parts.

Drops reach failed/ and sent/ either through the real pipeline (watcher, worker and the
sandbox, with an injected fault where a failure is needed) or, where dates and clients
must be chosen, by writing the folder layout that delivery.results produces.
"""

import json
from datetime import datetime, timezone

import pytest

from delivery.folders import new_drop_id
from tests.conftest import LINE_ID, SUBSCRIBERS
from tests.drops import fake_pdf, new_document_id, read_status, wait_for_state, write_drop
from tests.processes import courier_cli, free_port, wait_for
from tests.work_drops import invoice_drop

IVANOV = SUBSCRIBERS[0]
KUZNETSOVA = SUBSCRIBERS[1]

OK, REQUEUE_FAILED, INVALID_USAGE, NOT_FOUND, NOTHING_TO_DO, ABORTED = 0, 1, 2, 3, 4, 5
UNAVAILABLE = 69


def uploads_to(sandbox, user_id, file_name):
    return [record for record in sandbox.received()
            if record["kind"] == "file" and record["meta"]["user_id"] == user_id
            and record["meta"]["file_name"] == file_name]


def sent_folder(root, drop_id):
    return next((root / "sent").glob(f"*/{drop_id}"), None)


def only_failed_drop(root):
    folders = [path for path in (root / "failed").iterdir() if path.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


def output_of(result) -> str:
    return result.stdout + result.stderr


def write_invoice_drop(inbox, number, user_ids):
    """Write an invoice for `user_ids` into the inbox and return its document id and file name."""
    document_id = new_document_id()
    file_name = f"Счёт {number}.pdf"
    write_drop(inbox, f"Счёт {number}", {
        "document_id": document_id, "kind": "invoice", "number": number,
        "client": {"name": "ООО «Ромашка»", "inn": "7701234567"},
        "recipients": [{"user_id": user_id} for user_id in user_ids],
        "files": [file_name],
    }, {file_name: fake_pdf(number)})
    return document_id, file_name


def write_failed_drop(root, *, kind, number, inn, failed_at, user_ids=(IVANOV["user_id"],),
                      message="Документ не доставлен ни одному получателю.", document_id=None):
    """Write failed/<drop_id>/ as delivery.results leaves it and return (drop_id, document_id)."""
    document_id = document_id or new_document_id()
    drop_id = new_drop_id(failed_at)
    folder = root / "failed" / drop_id
    folder.mkdir(parents=True)
    file_name = f"{number}.pdf"
    (folder / file_name).write_bytes(fake_pdf(number))
    sidecar = {"document_id": document_id, "kind": kind, "number": number,
               "client": {"name": f"Клиент {inn}", "inn": inn},
               "recipients": [{"user_id": user_id} for user_id in user_ids],
               "files": [file_name]}
    (folder / f"{number}.json").write_text(json.dumps(sidecar, ensure_ascii=False), "utf-8")
    stamp = failed_at.isoformat(timespec="seconds")
    (folder / "claim.json").write_text(json.dumps({
        "drop_id": drop_id, "sidecar": f"{number}.json", "files": [file_name],
        "document_id": document_id, "claimed_at": stamp, "claimed_by": "tests"}), "utf-8")
    (folder / "error.json").write_text(json.dumps({
        "drop_id": drop_id, "document_id": document_id, "kind": kind, "number": number,
        "state": "failed", "message": message, "errors": [], "failed_at": stamp},
        ensure_ascii=False), "utf-8")
    (root / "status" / f"{document_id}.json").write_text(json.dumps({
        "document_id": document_id, "state": "failed", "drop_id": drop_id,
        "message": message, "recipients": [], "updated_at": stamp,
        "location": f"failed/{drop_id}"}, ensure_ascii=False), "utf-8")
    return drop_id, document_id


def test_help_is_russian_with_exit_codes(courier_env):
    result = courier_cli(courier_env, "--help")

    assert result.returncode == OK, result.stderr
    for command in ("status", "failed", "retry", "resend", "rescan", "pause", "resume"):
        assert command in result.stdout
    assert "Коды выхода" in result.stdout
    assert "69" in result.stdout
    assert "Примеры" in result.stdout


def test_missing_argument_is_invalid_usage(courier_env):
    result = courier_cli(courier_env, "status")

    assert result.returncode == INVALID_USAGE
    assert "не указан аргумент DOCUMENT_ID" in result.stderr
    assert "Использование:" in result.stderr


def test_status_of_unknown_document_is_not_found(courier_env):
    document_id = new_document_id()

    result = courier_cli(courier_env, "status", document_id)

    assert result.returncode == NOT_FOUND
    assert f"Курьер не знает документа {document_id}" in result.stderr


@pytest.mark.usefixtures("worker", "watcher")
def test_status_of_delivered_document(courier_env, courier_root):
    document_id, _ = write_invoice_drop(courier_root / "inbox", "СТ-1", [IVANOV["user_id"]])
    status = wait_for_state(courier_root, document_id, {"delivered"})

    table = courier_cli(courier_env, "status", document_id.upper())
    raw = courier_cli(courier_env, "status", document_id, "--json")

    assert table.returncode == OK, table.stderr
    assert "доставлен (delivered)" in table.stdout
    assert "sent/" in table.stdout
    assert status["drop_id"] in table.stdout
    assert "Счёт на оплату № СТ-1" in table.stdout
    assert "ООО «Ромашка» (ИНН 7701234567)" in table.stdout
    assert IVANOV["user_id"] in table.stdout
    assert raw.returncode == OK
    assert json.loads(raw.stdout) == read_status(courier_root, document_id)


def test_failed_filters_by_date_client_and_kind(courier_env, courier_root):
    january, _ = write_failed_drop(courier_root, kind="invoice", number="Ф-1", inn="7701234567",
                                   failed_at=datetime(2026, 1, 10, 12, tzinfo=timezone.utc))
    february, _ = write_failed_drop(courier_root, kind="act", number="Ф-2", inn="7702222222",
                                    failed_at=datetime(2026, 2, 15, 12, tzinfo=timezone.utc))
    march, march_document = write_failed_drop(
        courier_root, kind="invoice", number="Ф-3", inn="7702222222",
        failed_at=datetime(2026, 3, 1, 12, tzinfo=timezone.utc),
        message="Документ не доставлен ни одному получателю.\nПодробности в error.json.")
    cases = {
        (): {january, february, march},
        ("--since", "2026-02-01"): {february, march},
        ("--since", "01.03.2026"): {march},
        ("--client", "7701234567"): {january},
        ("--kind", "act"): {february},
        ("--kind", "invoice", "--client", "7702222222"): {march},
    }

    for options, expected in cases.items():
        result = courier_cli(courier_env, "failed", *options)
        assert result.returncode == OK, (options, result.stderr)
        listed_drops = {drop for drop in (january, february, march) if drop in result.stdout}
        assert listed_drops == expected, options

    listing = courier_cli(courier_env, "failed", "--kind", "invoice", "--since", "2026-02-01",
                          "--json")
    item, = json.loads(listing.stdout)
    assert item["drop_id"] == march
    assert item["document_id"] == march_document
    assert item["client"] == {"name": "Клиент 7702222222", "inn": "7702222222"}
    full = courier_cli(courier_env, "failed", "--client", "7702222222").stdout
    assert "Подробности в error.json" not in full
    assert "Ф-3" in full


def test_failed_with_no_match_and_bad_filter(courier_env, courier_root):
    write_failed_drop(courier_root, kind="act", number="Ф-4", inn="7701234567",
                      failed_at=datetime(2026, 1, 10, tzinfo=timezone.utc))

    empty = courier_cli(courier_env, "failed", "--kind", "waybill")
    bad_date = courier_cli(courier_env, "failed", "--since", "31.02.2026")
    bad_kind = courier_cli(courier_env, "failed", "--kind", "счёт")

    assert empty.returncode == OK
    assert "В failed/ нет дропов по условиям: вид waybill." in empty.stdout
    assert bad_date.returncode == INVALID_USAGE
    assert "дата «31.02.2026» не распознана" in bad_date.stderr
    assert bad_kind.returncode == INVALID_USAGE
    assert "допустимые виды" in bad_kind.stderr


@pytest.mark.usefixtures("worker", "watcher")
def test_retry_partial_drop_sends_only_to_owed(courier_env, courier_root, sandbox):
    sandbox.set_faults(status=403, count=1, path_prefix="/v1/line/send/file/")
    document_id, file_name = write_invoice_drop(
        courier_root / "inbox", "П-7", [IVANOV["user_id"], KUZNETSOVA["user_id"]])
    wait_for_state(courier_root, document_id, {"partially_delivered"})
    failed_folder = only_failed_drop(courier_root)
    drop_id = failed_folder.name

    result = courier_cli(courier_env, "retry", document_id)

    assert result.returncode == OK, output_of(result)
    assert f"Дроп {drop_id}" in result.stdout
    assert "получателей к отправке: 1 из 2" in result.stdout
    status = wait_for_state(courier_root, document_id, {"delivered"})
    assert len(uploads_to(sandbox, IVANOV["user_id"], file_name)) == 1
    assert len(uploads_to(sandbox, KUZNETSOVA["user_id"], file_name)) == 1
    assert not failed_folder.exists()
    folder = sent_folder(courier_root, drop_id)
    assert status["location"] == folder.relative_to(courier_root).as_posix()
    assert (folder / "error.previous.json").exists()
    assert (folder / "receipt.previous.json").exists()
    assert not (folder / "error.json").exists()
    claim = json.loads((folder / "claim.json").read_text(encoding="utf-8"))
    assert claim["first_claimed_at"] <= claim["claimed_at"]
    assert claim["requeues"][0]["command"] == "retry"


@pytest.mark.usefixtures("worker")
def test_retry_all_failed_honours_filters(courier_env, courier_root, sandbox):
    now = datetime.now(timezone.utc)
    first, first_document = write_failed_drop(courier_root, kind="invoice", number="В-1",
                                              inn="7701234567", failed_at=now)
    second, second_document = write_failed_drop(courier_root, kind="act", number="В-2",
                                                inn="7702222222", failed_at=now)

    filtered = courier_cli(courier_env, "retry", "--all-failed", "--client", "7701234567")

    assert filtered.returncode == OK, output_of(filtered)
    wait_for_state(courier_root, first_document, {"delivered"})
    assert sent_folder(courier_root, first) is not None
    assert (courier_root / "failed" / second / "error.json").exists()

    rest = courier_cli(courier_env, "retry", "--all-failed")
    assert rest.returncode == OK, output_of(rest)
    assert second in rest.stdout
    wait_for_state(courier_root, second_document, {"delivered"})
    assert len(uploads_to(sandbox, IVANOV["user_id"], "В-2.pdf")) == 1

    again = courier_cli(courier_env, "retry", "--all-failed")
    assert again.returncode == NOTHING_TO_DO
    assert "возвращать нечего" in again.stderr


def test_retry_skips_superseded_failed_drop(courier_env, courier_root):
    older, document_id = write_failed_drop(courier_root, kind="invoice", number="С-1",
                                           inn="7701234567",
                                           failed_at=datetime(2026, 1, 10, tzinfo=timezone.utc))
    newer, _ = write_failed_drop(courier_root, kind="invoice", number="С-1", inn="7701234567",
                                 failed_at=datetime(2026, 1, 11, tzinfo=timezone.utc),
                                 document_id=document_id)

    everything = courier_cli(courier_env, "retry", "--all-failed")
    by_document = courier_cli(courier_env, "retry", document_id)
    by_drop = courier_cli(courier_env, "retry", "--drop", older)

    assert everything.returncode == OK, output_of(everything)
    assert f"Дроп {older} пропущен" in everything.stdout
    assert (courier_root / "work" / newer).is_dir()
    assert by_document.returncode == NOTHING_TO_DO
    assert f"более новый дроп work/{newer}/" in by_document.stderr
    assert by_drop.returncode == OK, output_of(by_drop)
    assert (courier_root / "work" / older).is_dir()
    assert not list((courier_root / "failed").iterdir())


def test_retry_of_unknown_document_is_not_found(courier_env):
    result = courier_cli(courier_env, "retry", new_document_id())

    assert result.returncode == NOT_FOUND
    assert "Курьер не знает документа" in result.stderr


@pytest.mark.usefixtures("worker", "watcher")
def test_resend_needs_force_and_uploads_again(courier_env, courier_root, sandbox):
    document_id, file_name = write_invoice_drop(courier_root / "inbox", "Р-3",
                                                [IVANOV["user_id"]])
    first = wait_for_state(courier_root, document_id, {"delivered"})
    drop_id = first["drop_id"]

    without_force = courier_cli(courier_env, "resend", document_id)
    declined = courier_cli(courier_env, "resend", document_id, "--force", input="нет\n")
    retry_delivered = courier_cli(courier_env, "retry", document_id)

    assert without_force.returncode == INVALID_USAGE
    assert "--force" in without_force.stderr
    assert declined.returncode == ABORTED
    assert "ещё раз в обход защиты от дублей?" in declined.stderr
    assert sent_folder(courier_root, drop_id) is not None
    assert retry_delivered.returncode == NOTHING_TO_DO
    assert "resend --force" in retry_delivered.stderr
    assert len(uploads_to(sandbox, IVANOV["user_id"], file_name)) == 1

    forced = courier_cli(courier_env, "resend", document_id, "--force", "--yes")

    assert forced.returncode == OK, output_of(forced)
    assert "записей журнала отправок забыто: 1" in forced.stdout
    wait_for(lambda: len(uploads_to(sandbox, IVANOV["user_id"], file_name)) == 2, 60,
             message="the second upload")
    status = wait_for_state(courier_root, document_id, {"delivered"})
    assert status["drop_id"] == drop_id
    folder = wait_for(lambda: sent_folder(courier_root, drop_id), 30, message="sent/ again")
    assert (folder / "receipt.previous.json").exists()


@pytest.mark.usefixtures("worker")
def test_rescan_queues_orphaned_work_drop(courier_env, courier_root, redis_client):
    drop = invoice_drop(courier_root, "О-5", [IVANOV["user_id"]])

    result = courier_cli(courier_env, "rescan")

    assert result.returncode == OK, output_of(result)
    assert "Снова поставлено в очередь дропов: 1." in result.stdout
    assert drop.drop_id in result.stdout
    wait_for_state(courier_root, drop.document_id, {"delivered"})
    assert sent_folder(courier_root, drop.drop_id) is not None

    again = courier_cli(courier_env, "rescan")
    assert again.returncode == NOTHING_TO_DO
    assert "ставить в очередь нечего" in again.stderr


@pytest.mark.usefixtures("worker", "watcher")
def test_pause_holds_drop_until_resume(courier_env, courier_root, sandbox):
    paused = courier_cli(courier_env, "pause")
    assert paused.returncode == OK, output_of(paused)
    assert "Отправка приостановлена для всех линий." in paused.stdout

    document_id, file_name = write_invoice_drop(courier_root / "inbox", "ПЗ-1",
                                                [IVANOV["user_id"]])

    def held_by_pause():
        status = read_status(courier_root, document_id) or {}
        return status if status.get("message", "").startswith("Отправка приостановлена") else None

    status = wait_for(held_by_pause, 30, message="the paused status")
    assert status["state"] == "queued"
    assert (courier_root / "work" / status["drop_id"]).is_dir()
    assert uploads_to(sandbox, IVANOV["user_id"], file_name) == []

    resumed = courier_cli(courier_env, "resume")

    assert resumed.returncode == OK
    assert "Отправка идёт: пауз нет." in resumed.stdout
    wait_for_state(courier_root, document_id, {"delivered"}, timeout=90)
    assert len(uploads_to(sandbox, IVANOV["user_id"], file_name)) == 1


def test_pause_of_one_line_is_separate(courier_env):
    other_line = "{5C9D0F3A-2B4E-4A1D-9E8F-7A6B5C4D3E2F}"

    line_paused = courier_cli(courier_env, "pause", "--line", LINE_ID)
    other_paused = courier_cli(courier_env, "pause", "--line", other_line)
    global_resumed = courier_cli(courier_env, "resume")
    line_resumed = courier_cli(courier_env, "resume", "--line", LINE_ID.upper())
    listing = courier_cli(courier_env, "paused")
    invalid = courier_cli(courier_env, "pause", "--line", "линия-1")

    assert line_paused.returncode == OK
    assert f"Приостановлены линии: {LINE_ID}." in line_paused.stdout
    assert "5c9d0f3a-2b4e-4a1d-9e8f-7a6b5c4d3e2f" in other_paused.stdout
    assert LINE_ID in global_resumed.stdout
    assert LINE_ID not in line_resumed.stdout
    assert listing.stdout.strip() == ("Приостановлены линии: "
                                      "5c9d0f3a-2b4e-4a1d-9e8f-7a6b5c4d3e2f.")
    assert invalid.returncode == INVALID_USAGE
    assert "не UUID линии" in invalid.stderr


def test_redis_down_exits_unavailable(courier_env, courier_root):
    port = free_port()
    env = {**courier_env, "REDIS_URL": f"redis://:s3cret-pass@127.0.0.1:{port}/0"}
    document_id = new_document_id()
    commands = [("pause",), ("resume", "--line", LINE_ID), ("paused",), ("rescan",),
                ("retry", "--all-failed"), ("retry", document_id),
                ("resend", document_id, "--force", "--yes")]

    for command in commands:
        result = courier_cli(env, *command)
        assert result.returncode == UNAVAILABLE, (command, output_of(result))
        assert f"Redis по адресу 127.0.0.1:{port}/0 недоступен" in result.stderr, command
        assert "s3cret-pass" not in output_of(result), command

    files_only = courier_cli(env, "failed")
    assert files_only.returncode == OK
