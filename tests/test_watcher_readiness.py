"""ReadinessTracker against real files in a temporary inbox, with an injected clock.

No processes run here: each test writes files, lists the inbox with the watcher's own
`list_inbox`, and moves the fake clock instead of sleeping.
"""

import json
import os
import tracemalloc

import pytest

from delivery.drop import is_ignored
from tests.drops import fake_pdf, new_document_id, write_drop
from watcher import readiness
from watcher.listing import list_inbox
from watcher.readiness import ReadinessTracker, Verdict

SETTLE_SECONDS = 2.0
MISSING_FILE_SECONDS = 30.0
MAX_FILE_BYTES = 10_000
USER_ID = "5c9d1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"


class FakeClock:
    """Monotonic seconds that move only when a test calls advance()."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def inbox(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


@pytest.fixture
def tracker(inbox, clock):
    return ReadinessTracker(inbox, SETTLE_SECONDS, MISSING_FILE_SECONDS, MAX_FILE_BYTES,
                            clock=clock)


def payload(**changes) -> dict:
    data = {"document_id": new_document_id(), "recipients": [{"user_id": USER_ID}]}
    data.update(changes)
    return data


def look(tracker, inbox, name="Акт 9.json"):
    return tracker.evaluate(name, list_inbox(inbox))


def settle(tracker, inbox, clock, name="Акт 9.json"):
    """Look once, let the settle time pass, and look again."""
    look(tracker, inbox, name)
    clock.advance(SETTLE_SECONDS)
    return look(tracker, inbox, name)


def test_drop_ready_after_settle_time(tracker, inbox, clock):
    write_drop(inbox, "Акт 9", payload(), {"Акт 9.pdf": fake_pdf("act")})

    first = look(tracker, inbox)
    clock.advance(SETTLE_SECONDS - 0.1)
    early = look(tracker, inbox)
    clock.advance(0.1)
    ready = look(tracker, inbox)

    assert first.verdict is Verdict.WAIT
    assert early.verdict is Verdict.WAIT
    assert ready.verdict is Verdict.READY
    assert ready.file_names == ["Акт 9.pdf"]


def test_growing_file_restarts_settle(tracker, inbox, clock):
    write_drop(inbox, "Акт 9", payload(files=["Акт 9.pdf"]), {"Акт 9.pdf": b"%PDF-1.7\n"})
    look(tracker, inbox)
    clock.advance(SETTLE_SECONDS - 0.5)

    with open(inbox / "Акт 9.pdf", "ab") as handle:
        handle.write(b"more bytes")
    after_write = look(tracker, inbox)
    clock.advance(SETTLE_SECONDS - 0.5)
    still_settling = look(tracker, inbox)
    clock.advance(0.5)
    ready = look(tracker, inbox)

    assert after_write.verdict is Verdict.WAIT
    assert still_settling.verdict is Verdict.WAIT
    assert ready.verdict is Verdict.READY


def test_mtime_change_alone_restarts_settle(tracker, inbox, clock):
    write_drop(inbox, "Акт 9", payload(), {"Акт 9.pdf": fake_pdf("act")})
    look(tracker, inbox)
    clock.advance(SETTLE_SECONDS - 0.5)

    info = os.stat(inbox / "Акт 9.pdf")
    os.utime(inbox / "Акт 9.pdf", ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
    touched = look(tracker, inbox)
    clock.advance(SETTLE_SECONDS)
    ready = look(tracker, inbox)

    assert touched.verdict is Verdict.WAIT
    assert ready.verdict is Verdict.READY


def test_sidecar_first_waits_for_listed_file(tracker, inbox, clock):
    write_drop(inbox, "Акт 9", payload(files=["Акт 9.pdf"]))
    waiting = settle(tracker, inbox, clock)
    clock.advance(MISSING_FILE_SECONDS / 2)

    (inbox / "Акт 9.pdf").write_bytes(fake_pdf("act"))
    arrived = look(tracker, inbox)
    clock.advance(SETTLE_SECONDS)
    ready = look(tracker, inbox)

    assert waiting.verdict is Verdict.WAIT
    assert arrived.verdict is Verdict.WAIT
    assert ready.verdict is Verdict.READY


def test_missing_file_rejected_after_timeout(tracker, inbox, clock):
    write_drop(inbox, "Акт 9", payload(files=["Акт 9.pdf", "Акт 9 приложение.pdf"]),
               {"Акт 9.pdf": fake_pdf("act")})
    look(tracker, inbox)
    clock.advance(MISSING_FILE_SECONDS - 1)
    before = look(tracker, inbox)
    clock.advance(1)
    after = look(tracker, inbox)

    assert before.verdict is Verdict.WAIT
    assert after.verdict is Verdict.REJECT
    assert "«Акт 9 приложение.pdf»" in after.error.message
    assert "«Акт 9.pdf»" not in after.error.message
    assert "исправьте поле files" in after.error.message
    assert after.error.field == "files"
    assert after.file_names == ["Акт 9.pdf", "Акт 9 приложение.pdf"]


def test_no_stem_files_rejected_after_timeout(tracker, inbox, clock):
    write_drop(inbox, "Акт 9", payload())
    look(tracker, inbox)
    clock.advance(MISSING_FILE_SECONDS)

    decision = look(tracker, inbox)

    assert decision.verdict is Verdict.REJECT
    assert "«Акт 9.*»" in decision.error.message
    assert '"files": []' in decision.error.message


def test_text_only_drop_ready_without_files(tracker, inbox, clock):
    write_drop(inbox, "Задача 5", payload(files=[], comment="Проверьте табель"))

    decision = settle(tracker, inbox, clock, "Задача 5.json")

    assert decision.verdict is Verdict.READY
    assert decision.file_names == []


def test_half_written_sidecar_waits_then_parses(tracker, inbox, clock):
    text = json.dumps(payload(files=[]), ensure_ascii=False)
    (inbox / "Акт 9.json").write_text(text[:20], encoding="utf-8")
    half = look(tracker, inbox)
    clock.advance(SETTLE_SECONDS / 2)

    (inbox / "Акт 9.json").write_text(text, encoding="utf-8")
    complete = look(tracker, inbox)
    clock.advance(SETTLE_SECONDS)
    ready = look(tracker, inbox)

    assert half.verdict is Verdict.WAIT
    assert complete.verdict is Verdict.WAIT
    assert ready.verdict is Verdict.READY


def test_invalid_sidecar_rejected_once_stable(tracker, inbox, clock):
    document_id = new_document_id()
    raw = payload(document_id=document_id, recipients=[{"user_id": "ivanov"}],
                  files=["Счёт.pdf"])
    write_drop(inbox, "Акт 9", raw, {"Счёт.pdf": fake_pdf("a"), "Акт 9.docx": b"PK"})

    early = look(tracker, inbox)
    clock.advance(SETTLE_SECONDS)
    decision = look(tracker, inbox)

    assert early.verdict is Verdict.WAIT
    assert decision.verdict is Verdict.REJECT
    assert "recipients[0].user_id" in decision.error.message
    assert decision.document_id == document_id
    assert decision.file_names == ["Акт 9.docx", "Счёт.pdf"]


def test_unchanged_sidecar_parsed_once(tracker, inbox, clock, monkeypatch):
    calls = []
    real_read = readiness.read_sidecar
    monkeypatch.setattr(readiness, "read_sidecar",
                        lambda path: calls.append(path) or real_read(path))
    write_drop(inbox, "Акт 9", payload(files=["Акт 9.pdf"]))

    for _ in range(20):
        look(tracker, inbox)
        clock.advance(0.5)
    (inbox / "Акт 9.json").write_text(json.dumps(payload(files=[])), encoding="utf-8")
    look(tracker, inbox)

    assert len(calls) == 2


@pytest.mark.parametrize("listed, fragment", [
    ("Акт 9.pdf.tmp", "временные и служебные файлы"),
    ("Приложение.json", "считает сопроводительными"),
])
def test_unusable_listed_name_rejected(tracker, inbox, clock, listed, fragment):
    (inbox / listed).write_bytes(b"data")
    write_drop(inbox, "Акт 9", payload(files=[listed]))

    decision = settle(tracker, inbox, clock)

    assert decision.verdict is Verdict.REJECT
    assert fragment in decision.error.message
    assert f"«{listed}»" in decision.error.message


def make_symlink(inbox):
    (inbox / "настоящий.pdf").write_bytes(fake_pdf("real"))
    os.symlink(inbox / "настоящий.pdf", inbox / "Акт 9.pdf")


@pytest.mark.parametrize("make, fragments", [
    (make_symlink, ["символическая ссылка", "сам файл"]),
    (lambda inbox: (inbox / "Акт 9.pdf").mkdir(), ["папка, а не файл"]),
    (lambda inbox: (inbox / "Акт 9.pdf").write_bytes(b""), ["пуст (0 байт)", "заново"]),
    (lambda inbox: (inbox / "Акт 9.pdf").write_bytes(b"x" * (MAX_FILE_BYTES + 1)),
     ["больше предела", "MAX_FILE_MB"]),
], ids=["symlink", "folder", "empty", "too large"])
def test_bad_listed_file_rejected(tracker, inbox, clock, make, fragments):
    make(inbox)
    write_drop(inbox, "Акт 9", payload(files=["Акт 9.pdf"]))

    decision = settle(tracker, inbox, clock)

    assert decision.verdict is Verdict.REJECT
    assert "«Акт 9.pdf»" in decision.error.message
    for fragment in fragments:
        assert fragment in decision.error.message


def test_mxl_file_rejected_with_pdf_hint(tracker, inbox, clock):
    write_drop(inbox, "Акт 9", payload(), {"Акт 9.mxl": b"MOXCEL"})

    decision = settle(tracker, inbox, clock)

    assert decision.verdict is Verdict.REJECT
    assert "MXL" in decision.error.message
    assert "PDF" in decision.error.message


def test_folder_named_like_sidecar_rejected(tracker, inbox, clock):
    (inbox / "Акт 9.json").mkdir()

    decision = settle(tracker, inbox, clock)

    assert decision.verdict is Verdict.REJECT
    assert "не обычный файл" in decision.error.message


def test_undecodable_sidecar_name_rejected(tracker, inbox, clock):
    raw_name = b"\xd1\xf7\xb8\xf2.json"  # "Счёт.json" in windows-1251
    with open(os.path.join(os.fsencode(inbox), raw_name), "w", encoding="utf-8") as handle:
        json.dump(payload(files=[]), handle)
    name = os.fsdecode(raw_name)

    decision = settle(tracker, inbox, clock, name)

    assert decision.verdict is Verdict.REJECT
    assert "iocharset=utf8" in decision.error.message
    assert "\\xd1\\xf7\\xb8\\xf2.json" in decision.error.message


def test_mangled_file_name_hints_iocharset(tracker, inbox, clock):
    (inbox / "????.pdf").write_bytes(fake_pdf("mangled"))
    write_drop(inbox, "Act 9", payload(files=["Счёт.pdf"]))
    look(tracker, inbox, "Act 9.json")
    clock.advance(MISSING_FILE_SECONDS)

    decision = look(tracker, inbox, "Act 9.json")

    assert decision.verdict is Verdict.REJECT
    assert "«????.pdf»" in decision.error.message
    assert "iocharset=utf8" in decision.error.message


def test_renamed_tmp_sidecar_listed_once(inbox):
    (inbox / "Акт 9.json.tmp").write_text(json.dumps(payload(files=[])), encoding="utf-8")
    before = list_inbox(inbox)
    os.rename(inbox / "Акт 9.json.tmp", inbox / "Акт 9.json")
    after = list_inbox(inbox)

    assert before.sidecars == []
    assert after.sidecars == ["Акт 9.json"]


@pytest.mark.parametrize("name", ["Счёт.pdf.TMP", "~$Договор.docx", ".~lock.x#", "THUMBS.DB",
                                  "Desktop.ini"])
def test_temporary_and_system_names_ignored(name):
    assert is_ignored(name)


def test_pending_drops_cost_little_memory(tracker, inbox, clock):
    count = 2000
    for index in range(count):
        write_drop(inbox, f"Счёт № БП-{index:06d}", payload(
            files=[f"Счёт № БП-{index:06d} от 04.12.2026.pdf"],
            comment="Счёт на оплату услуг за ноябрь", number=f"БП-{index:06d}",
            client={"name": "ООО «Ромашка»", "inn": "7701234567"}))
    listing = list_inbox(inbox)

    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    for name in listing.sidecars:
        tracker.evaluate(name, listing)
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert len(tracker) == count
    # A parsed pydantic Sidecar alone takes several kilobytes; the tracker keeps ids,
    # names and signatures only.
    assert (after - before) / count < 1500


def test_locked_file_waits_then_rejected(tracker, inbox, clock, monkeypatch):
    # A file that 1C or an antivirus keeps open on a Windows share refuses to open for the
    # courier; tests run as root, whom permission bits never stop, so open() is replaced.
    def locked_open(path, *args, **kwargs):
        raise PermissionError(13, "Отказано в доступе", str(path))
    monkeypatch.setattr(readiness, "open", locked_open, raising=False)
    write_drop(inbox, "Акт 9", payload(), {"Акт 9.pdf": fake_pdf("act")})

    locked = settle(tracker, inbox, clock)
    clock.advance(MISSING_FILE_SECONDS)
    rejected = look(tracker, inbox)

    assert locked.verdict is Verdict.WAIT
    assert rejected.verdict is Verdict.REJECT
    assert "«Акт 9.pdf»" in rejected.error.message
    assert "не открывается" in rejected.error.message
    assert "Отказано в доступе" in rejected.error.message
