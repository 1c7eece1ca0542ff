"""The watcher as a real process: bad drops, races between watchers, slow writers,
a vanishing inbox, volume, and the start-up checks of COURIER_ROOT.

Every test runs `python -m watcher` against a real redis-server; where delivery
matters, a real Celery worker uploads to the HTTP sandbox.
"""

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SUBSCRIBERS, heartbeat_key_of
from tests.drops import (
    fake_pdf,
    new_document_id,
    sha256_bytes,
    sidecar_text,
    write_drop,
    write_in_chunks,
)
from tests.processes import PROJECT_ROOT, process_memory_kib, wait_for

IVANOV = SUBSCRIBERS[0]
# Queue that the watcher sends delivery tasks to (tasks.application.DELIVERY_QUEUE).
DELIVERY_QUEUE = "courier"


def recipient_payload(document_id: str | None = None, **changes) -> dict:
    payload = {"document_id": document_id or new_document_id(),
               "recipients": [{"user_id": IVANOV["user_id"]}]}
    payload.update(changes)
    return payload


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def failed_errors(root: Path) -> dict[str, dict]:
    """Return error.json of every failed drop, keyed by the sidecar name it came from."""
    return {error["sidecar"]: error for error in
            (read_json(path) for path in (root / "failed").glob("*/error.json"))}


def inbox_names(root: Path) -> list[str]:
    return sorted(os.listdir(root / "inbox"))


def queued_drop_ids(redis_client) -> list[str]:
    """Decode the drop id argument of every task waiting in the delivery queue."""
    drop_ids = []
    for raw in redis_client.lrange(DELIVERY_QUEUE, 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        drop_ids.append(args[0])
    return drop_ids


def uploads_of(sandbox, file_name: str) -> list[dict]:
    return [record for record in sandbox.received()
            if record.get("meta", {}).get("file_name") == file_name]


def wait_for_status(root: Path, document_id: str, state: str, timeout: float = 60) -> dict:
    path = root / "status" / f"{document_id}.json"

    def reached():
        if not path.exists():
            return None
        status = read_json(path)
        return status if status["state"] == state else None
    return wait_for(reached, timeout, interval=0.1, message=f"{document_id} {state}")


def heartbeat_of(redis_client, process) -> dict | None:
    raw = redis_client.get(heartbeat_key_of(process))
    return json.loads(raw) if raw else None


# --- bad drops ----------------------------------------------------------------------

def write_sidecar_bytes(inbox: Path, stem: str, raw: bytes) -> None:
    (inbox / f"{stem}.json.tmp").write_bytes(raw)
    os.rename(inbox / f"{stem}.json.tmp", inbox / f"{stem}.json")


def make_symlink(inbox: Path, stem: str) -> None:
    target = inbox.parent / "вне inbox.pdf"
    target.write_bytes(fake_pdf("target"))
    os.symlink(target, inbox / f"{stem}.pdf")


class Known(dict):
    """Changes to a valid sidecar whose document_id stays valid, so a status file is due."""


# One row per kind of bad drop. Columns: the stem, then the sidecar (raw bytes, a whole
# object, or Known changes to a valid one), then the files to create, then whether the
# document id is known. The last two are the expected error.json "field" or "file" and
# the fragments its message must contain.
BAD_DROPS = [
    ("Неполный JSON", b'{"document_id": "3f2c9a4e-5b1d', {}, False,
     ("file", "Неполный JSON.json"), ["неверный JSON", "выгрузите документ заново"]),
    ("Массив", b"[1, 2, 3]", {}, False,
     ("file", "Массив.json"), ["не JSON-объект, а массив", "{...}"]),
    ("Без документа", {"recipients": [{"user_id": IVANOV["user_id"]}]}, {}, False,
     ("field", "document_id"), ["обязательное поле", "УникальныйИдентификатор"]),
    ("Кривой документ", {"document_id": "БП-000123", "recipients": [{"email": "a@b.ru"}]},
     {}, False, ("field", "document_id"), ["«БП-000123»", "не является UUID"]),
    ("Получатель не UUID", Known(recipients=[{"user_id": "ivanov"}]), {}, True,
     ("field", "recipients[0].user_id"), ["«ivanov»", "email или phone"]),
    ("Без получателей", Known(recipients=[]), {}, True,
     ("field", "recipients"), ["список получателей пуст", "добавьте"]),
    ("Абсолютный путь", Known(files=["/etc/hostname"]), {}, True,
     ("field", "files[0]"), ["абсолютный путь", "только имя файла"]),
    ("Выход из папки", Known(files=["../секрет.pdf"]), {}, True,
     ("field", "files[0]"), ["«..»", "рядом с JSON"]),
    ("Ссылка", Known(), {"symlink": True}, True,
     ("file", "Ссылка.pdf"), ["символическая ссылка", "сам файл"]),
    ("Папка", Known(), {"folder": True}, True,
     ("file", "Папка.pdf"), ["папка, а не файл", "файлы, а не папки"]),
    ("Пустой", Known(), {"Пустой.pdf": b""}, True,
     ("file", "Пустой.pdf"), ["пуст (0 байт)", "выгрузите печатную форму заново"]),
    ("Табличный документ", Known(), {"Табличный документ.mxl": b"MOXCEL\x00" * 10}, True,
     ("file", "Табличный документ.mxl"), ["MXL", "сохраните печатную форму в PDF"]),
    ("Большой", Known(), {"Большой.pdf": fake_pdf("big", 1_200_000)}, True,
     ("file", "Большой.pdf"), ["MAX_FILE_MB = 1 МБ", "уменьшите файл"]),
    ("Повтор имён", Known(files=["Акт.pdf", "АКТ.PDF"]), {"Акт.pdf": fake_pdf("a")}, True,
     ("field", "files"), ["указан дважды", "уберите повтор"]),
    ("Нечитаемые байты", b'{"comment": "\x98\xff\x98"}', {}, False,
     ("file", "Нечитаемые байты.json"), ["ни как UTF-8, ни как windows-1251", "UTF-8"]),
    ("Нет файла", Known(files=["Нет файла.pdf"]), {}, True,
     ("file", "Нет файла.pdf"), ["«Нет файла.pdf»", "не появились", "исправьте поле files"]),
]


def write_bad_drop(inbox: Path, stem: str, sidecar, files: dict) -> str | None:
    """Write one bad drop; return its document id when the sidecar carries a valid one."""
    if files.pop("symlink", False):
        make_symlink(inbox, stem)
    if files.pop("folder", False):
        (inbox / f"{stem}.pdf").mkdir()
    for name, data in files.items():
        (inbox / name).write_bytes(data)

    if isinstance(sidecar, bytes):
        write_sidecar_bytes(inbox, stem, sidecar)
        return None
    if not isinstance(sidecar, Known):
        write_drop(inbox, stem, sidecar)
        return None
    document_id = new_document_id()
    write_drop(inbox, stem, recipient_payload(document_id, **sidecar))
    return document_id


def test_bad_drops_fail_with_reason(start_watcher, courier_root):
    inbox = courier_root / "inbox"
    known_ids = {}
    for stem, sidecar, files, _known, _where, _fragments in BAD_DROPS:
        known_ids[stem] = write_bad_drop(inbox, stem, sidecar, dict(files))
    undecodable = b"\xd1\xf7\xb8\xf2 17.json"  # "Счёт 17.json" in windows-1251
    with open(os.path.join(os.fsencode(inbox), undecodable), "wb") as handle:
        handle.write(json.dumps(recipient_payload(files=[])).encode())

    watcher = start_watcher(WATCHER_MISSING_FILE_SECONDS="2", MAX_FILE_MB="1")
    wait_for(lambda: not inbox_names(courier_root), 60, interval=0.2,
             message="every bad drop out of the inbox")
    errors = failed_errors(courier_root)

    assert watcher.alive()
    assert len(errors) == len(BAD_DROPS) + 1
    for stem, _sidecar, _files, known, (key, value), fragments in BAD_DROPS:
        error = errors[f"{stem}.json"]
        assert error[key] == value, stem
        assert error["state"] == "failed", stem
        for fragment in fragments:
            assert fragment in error["message"], (stem, error["message"])
        if known:
            status = read_json(courier_root / "status" / f"{known_ids[stem]}.json")
            assert status["state"] == "failed", stem
            assert status["message"] == error["message"], stem
    mangled = errors["\\xd1\\xf7\\xb8\\xf2 17.json"]
    assert "iocharset=utf8" in mangled["message"]
    assert not list((courier_root / "work").iterdir())


def test_bad_drop_files_move_along(start_watcher, courier_root):
    inbox = courier_root / "inbox"
    write_drop(inbox, "Акт 9", recipient_payload(recipients=[{"user_id": "ivanov"}],
                                                 files=["Приложение.pdf"]),
               {"Приложение.pdf": fake_pdf("a"), "Акт 9.docx": b"PK docx"})

    start_watcher()
    wait_for(lambda: not inbox_names(courier_root), 30, message="the drop out of the inbox")
    folder, = (courier_root / "failed").iterdir()

    assert sorted(os.listdir(folder)) == ["claim.json", "error.json", "Акт 9.docx", "Акт 9.json",
                                          "Приложение.pdf"]


def test_fixed_sidecar_dropped_again_delivers(start_watcher, start_worker, sandbox,
                                              courier_root):
    inbox = courier_root / "inbox"
    document_id = new_document_id()
    pdf = fake_pdf("fixed")
    write_drop(inbox, "Счёт 5", recipient_payload(document_id, recipients=[]),
               {"Счёт 5.pdf": pdf})
    start_worker()
    start_watcher()
    wait_for_status(courier_root, document_id, "failed")

    write_drop(inbox, "Счёт 5", recipient_payload(document_id), {"Счёт 5.pdf": pdf})
    status = wait_for_status(courier_root, document_id, "delivered")

    assert status["recipients"][0]["user_id"] == IVANOV["user_id"]
    assert len(uploads_of(sandbox, "Счёт 5.pdf")) == 1
    assert len(list((courier_root / "failed").iterdir())) == 1


# --- claims by two watchers -------------------------------------------------------

@pytest.mark.slow
def test_two_watchers_claim_each_drop_once(start_watcher, courier_root, redis_client):
    inbox = courier_root / "inbox"
    count = 500
    first = start_watcher("watcher-1")
    second = start_watcher("watcher-2")

    started = time.monotonic()
    stems = [f"Счёт {index:04d}" for index in range(count)]
    for stem in stems:
        write_drop(inbox, stem, recipient_payload(), {f"{stem}.pdf": fake_pdf(stem, 2048)})
    wait_for(lambda: redis_client.llen(DELIVERY_QUEUE) >= count and not inbox_names(
        courier_root), 120, interval=0.2, message="500 drops claimed and queued")
    elapsed = time.monotonic() - started
    claims = [read_json(path) for path in (courier_root / "work").glob("*/claim.json")]
    queued = queued_drop_ids(redis_client)

    assert len(claims) == count
    assert sorted(claim["sidecar"] for claim in claims) == sorted(f"{s}.json" for s in stems)
    assert len(queued) == count
    assert set(queued) == {claim["drop_id"] for claim in claims}
    assert not list((courier_root / "failed").iterdir())
    assert first.alive()
    assert second.alive()
    by_watcher = {}
    for claim in claims:
        by_watcher[claim["claimed_by"]] = by_watcher.get(claim["claimed_by"], 0) + 1
    print(f"\n500 drops claimed in {elapsed:.1f} s by two watchers: {by_watcher}")


# --- slow writers -------------------------------------------------------------------

@pytest.mark.usefixtures("worker", "watcher")
def test_chunked_large_file_uploaded_once(sandbox, courier_root):
    inbox = courier_root / "inbox"
    name = "Акт сверки за 2026 год.pdf"
    data = os.urandom(50 * 1024 * 1024)
    document_id = new_document_id()

    # 50 MB in 1 MB chunks with 80 ms pauses: about 4 s of "created" and "modified" events.
    write_in_chunks(inbox / name, data, 1024 * 1024, 0.08)
    write_drop(inbox, "Акт сверки", recipient_payload(document_id, files=[name]))
    wait_for_status(courier_root, document_id, "delivered", timeout=120)

    upload, = uploads_of(sandbox, name)
    assert upload["sha256"] == sha256_bytes(data)
    assert upload["meta"]["user_id"] == IVANOV["user_id"]


@pytest.mark.usefixtures("worker", "watcher")
def test_sidecar_before_file_delivered_once(sandbox, courier_root, redis_client):
    inbox = courier_root / "inbox"
    document_id = new_document_id()
    write_drop(inbox, "Накладная 7", recipient_payload(document_id, files=["Накладная 7.pdf"]))

    # 1C is slow to write the file: for two seconds the drop must stay in the inbox.
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        assert "Накладная 7.json" in inbox_names(courier_root)
        time.sleep(0.1)
    data = fake_pdf("waybill", 3 * 1024 * 1024)
    write_in_chunks(inbox / "Накладная 7.pdf", data, 256 * 1024, 0.05)
    wait_for_status(courier_root, document_id, "delivered")

    upload, = uploads_of(sandbox, "Накладная 7.pdf")
    assert upload["sha256"] == sha256_bytes(data)
    assert not list((courier_root / "failed").iterdir())


@pytest.mark.usefixtures("worker")
def test_tmp_sidecar_renamed_picked_up_once(start_watcher, sandbox, courier_root,
                                            redis_client):
    inbox = courier_root / "inbox"
    document_id = new_document_id()
    (inbox / "Договор 3.pdf").write_bytes(fake_pdf("contract"))
    (inbox / "Договор 3.json.tmp").write_text(
        sidecar_text(recipient_payload(document_id, files=["Договор 3.pdf"])), "utf-8")
    watcher = start_watcher()

    first_scan = heartbeat_of(redis_client, watcher)["last_scan_at"]
    wait_for(lambda: heartbeat_of(redis_client, watcher)["last_scan_at"] > first_scan + 1, 10,
             message="scans over a second with only the .tmp sidecar")
    assert heartbeat_of(redis_client, watcher)["pending"] == 0
    assert "Договор 3.json.tmp" in inbox_names(courier_root)

    os.rename(inbox / "Договор 3.json.tmp", inbox / "Договор 3.json")
    wait_for_status(courier_root, document_id, "delivered")
    claimed = heartbeat_of(redis_client, watcher)["claimed_total"]

    assert claimed == 1
    assert len(uploads_of(sandbox, "Договор 3.pdf")) == 1


# --- the inbox goes away and comes back ------------------------------------------

def write_orphaned_claim(root: Path, stem: str, document_id: str) -> str:
    """Put a claimed drop into work/ as if its Celery task had been lost."""
    drop_id = "20261204-000000-000000-0rphan"
    folder = root / "work" / drop_id
    folder.mkdir()
    (folder / f"{stem}.pdf").write_bytes(fake_pdf(stem))
    (folder / f"{stem}.json").write_text(
        sidecar_text(recipient_payload(document_id, files=[f"{stem}.pdf"])), "utf-8")
    (folder / "claim.json").write_text(json.dumps({
        "drop_id": drop_id, "sidecar": f"{stem}.json", "files": [f"{stem}.pdf"],
        "document_id": document_id, "claimed_at": "2026-12-04T00:00:00+00:00",
        "claimed_by": "lost-host:1"}, ensure_ascii=False), "utf-8")
    return drop_id


@pytest.mark.usefixtures("worker")
def test_inbox_renamed_away_and_back(start_watcher, sandbox, courier_root, redis_client):
    inbox = courier_root / "inbox"
    away = courier_root / "inbox.away"
    before_id, pending_id, during_id, orphan_id = (new_document_id() for _ in range(4))
    watcher = start_watcher(WATCHER_SETTLE_SECONDS="1")
    write_drop(inbox, "До", recipient_payload(before_id), {"До.pdf": fake_pdf("before")})
    wait_for_status(courier_root, before_id, "delivered")

    # A drop still settling when the share goes away must not be lost.
    write_drop(inbox, "Ждёт", recipient_payload(pending_id), {"Ждёт.pdf": fake_pdf("pending")})
    os.rename(inbox, away)
    wait_for(lambda: heartbeat_of(redis_client, watcher)["inbox_available"] is False, 10,
             message="the watcher to notice the inbox is gone")
    write_drop(away, "Во время", recipient_payload(during_id), {"Во время.pdf": fake_pdf("d")})
    write_orphaned_claim(courier_root, "Сирота", orphan_id)
    gone_at = heartbeat_of(redis_client, watcher)["written_at"]
    wait_for(lambda: heartbeat_of(redis_client, watcher)["written_at"] > gone_at + 1.5, 10,
             message="heartbeats while the inbox is gone")

    assert watcher.alive()
    assert not inbox.exists()
    assert watcher.output().count("недоступна") == 1

    os.rename(away, inbox)
    for document_id in (pending_id, during_id, orphan_id):
        wait_for_status(courier_root, document_id, "delivered")

    assert not inbox_names(courier_root)
    assert not list((courier_root / "failed").iterdir())
    assert "снова доступна" in watcher.output()
    assert len(uploads_of(sandbox, "Ждёт.pdf")) == 1


@pytest.mark.usefixtures("worker")
def test_orphaned_work_drop_requeued_on_start(start_watcher, courier_root):
    document_id = new_document_id()
    write_orphaned_claim(courier_root, "Сирота", document_id)

    watcher = start_watcher()
    wait_for_status(courier_root, document_id, "delivered")

    assert "без задачи Celery" in watcher.output()


def test_subfolder_of_inbox_not_watched(start_watcher, courier_root, redis_client):
    nested = courier_root / "inbox" / "архив"
    nested.mkdir()
    write_drop(nested, "Старый", recipient_payload(), {"Старый.pdf": fake_pdf("old")})
    watcher = start_watcher()

    first_scan = heartbeat_of(redis_client, watcher)["last_scan_at"]
    wait_for(lambda: heartbeat_of(redis_client, watcher)["last_scan_at"] > first_scan + 1, 10,
             message="a second of scans")

    assert sorted(os.listdir(nested)) == ["Старый.json", "Старый.pdf"]
    assert heartbeat_of(redis_client, watcher)["claimed_total"] == 0


@pytest.mark.usefixtures("worker")
def test_polling_mode_delivers_without_observer(start_watcher, courier_root, redis_client):
    document_id = new_document_id()
    watcher = start_watcher(WATCHER_MODE="polling")
    write_drop(courier_root / "inbox", "Опрос", recipient_payload(document_id),
               {"Опрос.pdf": fake_pdf("poll")})
    wait_for_status(courier_root, document_id, "delivered")
    heartbeat = heartbeat_of(redis_client, watcher)

    assert heartbeat["mode"] == "polling"
    assert heartbeat["observer_alive"] is None


# --- volume ---------------------------------------------------------------------------

@pytest.mark.slow
def test_ten_thousand_drops_delivered(start_watcher, start_worker, sandbox,
                                               courier_root, redis_client):
    inbox = courier_root / "inbox"
    count = 10_000
    for index in range(count):
        stem = f"Счёт № БП-{index:06d}"
        write_drop(inbox, stem, recipient_payload(), {f"{stem}.pdf": fake_pdf(stem, 1024)})

    started = time.monotonic()
    watcher = start_watcher(WATCHER_POLL_SECONDS="1", WATCHER_SETTLE_SECONDS="1")
    peak_pending = 0
    stalest_heartbeat = 0.0

    def all_claimed():
        nonlocal peak_pending, stalest_heartbeat
        heartbeat = heartbeat_of(redis_client, watcher)
        peak_pending = max(peak_pending, heartbeat["pending"])
        stalest_heartbeat = max(stalest_heartbeat, time.time() - heartbeat["written_at"])
        return heartbeat["claimed_total"] == count
    wait_for(all_claimed, 180, interval=0.5, message="10,000 drops claimed")
    claimed_after = time.monotonic() - started
    memory = process_memory_kib(watcher.process.pid)
    start_worker(concurrency=4, CONNECT_RATE_PER_SECOND="100000",
                 CONNECT_RATE_PER_MINUTE="6000000")
    wait_for(lambda: len(sandbox.received()) >= count, 240, interval=1,
             message="10,000 uploads in the sandbox")
    delivered_after = time.monotonic() - started

    assert len({record["meta"]["file_name"] for record in sandbox.received()}) == count
    wait_for(lambda: not list((courier_root / "work").iterdir()), 60, interval=0.5,
             message="work/ emptied")
    assert not inbox_names(courier_root)
    assert not list((courier_root / "failed").iterdir())
    assert stalest_heartbeat < 15
    print(f"\n10,000 drops: peak pending {peak_pending}, stalest heartbeat "
          f"{stalest_heartbeat:.1f} s, claimed in {claimed_after:.0f} s, "
          f"delivered in {delivered_after:.0f} s; watcher RSS {memory['VmRSS'] / 1024:.0f} MiB, "
          f"peak {memory['VmHWM'] / 1024:.0f} MiB")


# --- start-up checks of COURIER_ROOT ---------------------------------------------

# Imitates a CIFS mount without iocharset=utf8: the kernel lists every character it
# cannot convert as "?". No share can be mounted here, so the wrapper patches os.listdir,
# which the start-up check reads the folder with, in the real watcher process.
MANGLING_WRAPPER = """
import os, re, runpy
_listdir = os.listdir
def mangle(name):
    return re.sub(r"[^\\x00-\\x7f]", "?", name) if isinstance(name, str) else name
os.listdir = lambda path=".": [mangle(name) for name in _listdir(path)]
runpy.run_module("watcher", run_name="__main__")
"""


def test_lossy_mount_refuses_start(courier_env, courier_root, tmp_path):
    wrapper = tmp_path / "mangling_watcher.py"
    wrapper.write_text(MANGLING_WRAPPER, encoding="utf-8")

    result = subprocess.run([sys.executable, str(wrapper)], env=courier_env, cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 78
    assert "iocharset=utf8" in result.stderr
    assert "искажает кириллицу" in result.stderr
    assert not [name for name in os.listdir(courier_root) if name.startswith(".courier-")]


def test_probe_removed_after_clean_start(start_watcher, courier_root):
    watcher = start_watcher()

    assert watcher.alive()
    assert not [name for name in os.listdir(courier_root) if name.startswith(".courier-")]


def test_inbox_on_other_mount_refused(courier_env, courier_root):
    shared_memory = Path("/dev/shm")
    if not shared_memory.is_dir() or (
            shared_memory.stat().st_dev == courier_root.stat().st_dev):
        pytest.skip("needs /dev/shm on a file system other than the test's tmp folder")
    elsewhere = shared_memory / f"courier-inbox-{os.getpid()}"
    elsewhere.mkdir()
    (courier_root / "inbox").rmdir()
    os.symlink(elsewhere, courier_root / "inbox")
    try:
        result = subprocess.run([sys.executable, "-m", "watcher"], env=courier_env,
                                cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    finally:
        elsewhere.rmdir()

    assert result.returncode == 78
    assert "разных файловых системах" in result.stderr
