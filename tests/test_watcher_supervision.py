"""Supervision inside one Watcher object: failing drops, a dead observer, a broker outage,
the heartbeat, and the choice of mode.

These tests drive `Watcher.turn()` in the test process, against real folders, a real
redis-server and real watchdog observers. Three of them need an unexpected exception,
which no real input raises any more. They inject it by wrapping one watcher method with
monkeypatch, and a comment in each names the injected fault.
"""

import logging
import os
import threading

import pytest
from celery import Celery

from config import Settings, WatcherMode
from tests.conftest import SUBSCRIBERS
from tests.drops import fake_pdf, new_document_id, write_drop
from tests.processes import free_port, wait_for
from watcher import service
from watcher.heartbeat import read_heartbeats
from watcher.observer import choose_polling, mount_fs_type, observer_alive, stop_observer
from watcher.service import Watcher

DELIVERY_QUEUE = "courier"


def celery_app(broker_url: str) -> Celery:
    app = Celery("supervision-test", broker=broker_url)
    app.conf.update(task_default_queue=DELIVERY_QUEUE, task_publish_retry=False,
                    broker_connection_timeout=1, broker_connection_retry=False)
    return app


@pytest.fixture
def make_watcher(courier_root, redis_url, redis_client):
    """Build Watcher objects on this test's folders and Redis; stop their observers after."""
    built = []

    def make(mode: str = "events", settle_seconds: float = 0.0) -> Watcher:
        settings = Settings(COURIER_ROOT=courier_root, REDIS_URL=redis_url, WATCHER_MODE=mode,
                            WATCHER_POLL_SECONDS=0.1, WATCHER_SETTLE_SECONDS=settle_seconds,
                            WATCHER_MISSING_FILE_SECONDS=60)
        watcher = Watcher(settings, celery_app(redis_url), redis_client)
        built.append(watcher)
        return watcher

    yield make
    for watcher in built:
        if watcher.observer is not None:
            stop_observer(watcher.observer)


def drop_payload(document_id: str | None = None) -> dict:
    return {"document_id": document_id or new_document_id(),
            "recipients": [{"user_id": SUBSCRIBERS[0]["user_id"]}]}


def read_error(folder) -> dict:
    import json

    return json.loads((folder / "error.json").read_text(encoding="utf-8"))


def test_failing_drop_moved_to_failed(make_watcher, courier_root, redis_client,
                                                  monkeypatch, caplog):
    inbox = courier_root / "inbox"
    write_drop(inbox, "Плохой", drop_payload(), {"Плохой.pdf": fake_pdf("bad")})
    write_drop(inbox, "Хороший", drop_payload(), {"Хороший.pdf": fake_pdf("good")})
    watcher = make_watcher()
    real_evaluate = watcher.tracker.evaluate

    # Injected fault: no real sidecar makes evaluate() raise, so one call is made to.
    def evaluate(name, listing):
        if name == "Плохой.json":
            raise RuntimeError("сбой проверки")
        return real_evaluate(name, listing)
    monkeypatch.setattr(watcher.tracker, "evaluate", evaluate)

    with caplog.at_level(logging.ERROR, logger="watcher"):
        watcher.turn()
    failed, = (courier_root / "failed").iterdir()
    error = read_error(failed)

    assert sorted(os.listdir(failed)) == ["claim.json", "error.json", "Плохой.json",
                                          "Плохой.pdf"]
    assert error["error_class"] == "WatcherInternalError"
    assert "RuntimeError: сбой проверки" in error["message"]
    assert "выгрузите его из 1C заново" in error["message"]
    assert failed.name in caplog.text
    assert len(list((courier_root / "work").glob("*/claim.json"))) == 1
    assert redis_client.llen(DELIVERY_QUEUE) == 1
    assert not os.listdir(inbox)


def test_failing_claim_moved_to_failed(make_watcher, courier_root, redis_client,
                                                    monkeypatch):
    document_id = new_document_id()
    write_drop(courier_root / "inbox", "Акт 9", drop_payload(document_id),
               {"Акт 9.pdf": fake_pdf("act")})
    watcher = make_watcher()

    # Injected fault: writing claim.json raises once, after the sidecar moved to work/.
    def broken_write_claim(*_args, **_kwargs):
        raise ValueError("claim.json не записан")
    monkeypatch.setattr(service, "write_claim", broken_write_claim)

    watcher.turn()
    failed, = (courier_root / "failed").iterdir()
    status = (courier_root / "status" / f"{document_id}.json").read_text(encoding="utf-8")

    assert "ValueError: claim.json не записан" in read_error(failed)["message"]
    assert "Акт 9.pdf" in os.listdir(failed)
    assert not list((courier_root / "work").iterdir())
    assert '"state": "failed"' in status
    assert redis_client.llen(DELIVERY_QUEUE) == 0


def test_broker_outage_queues_drop_later(make_watcher, courier_root, redis_url,
                                                   redis_client):
    write_drop(courier_root / "inbox", "Акт 9", drop_payload(), {"Акт 9.pdf": fake_pdf("act")})
    watcher = make_watcher()
    watcher.app = celery_app(f"redis://127.0.0.1:{free_port()}/0")

    watcher.turn()
    claimed = list((courier_root / "work").glob("*/claim.json"))
    waiting = dict(watcher.unqueued)
    watcher.app = celery_app(redis_url)
    watcher.turn()

    assert len(claimed) == 1
    assert list(waiting) == [claimed[0].parent.name]
    assert redis_client.llen(DELIVERY_QUEUE) == 1
    assert watcher.unqueued == {}


def test_dead_observer_thread_restarted(make_watcher, courier_root, caplog):
    watcher = make_watcher()
    watcher.supervise()
    first = watcher.observer

    stop_observer(first)
    with caplog.at_level(logging.ERROR, logger="watcher"):
        watcher.supervise()
    watcher.wake.clear()
    (courier_root / "inbox" / "событие.pdf").write_bytes(b"x")

    assert not observer_alive(first)
    assert watcher.observer is not first
    assert observer_alive(watcher.observer)
    assert "перезапускаем" in caplog.text
    assert wait_for(watcher.wake.is_set, 10, message="an inotify event from the new observer")


def test_dead_emitter_restarted(make_watcher):
    watcher = make_watcher()
    watcher.supervise()
    first = watcher.observer

    emitter, = first.emitters
    emitter.stop()
    emitter.join(5)
    watcher.supervise()

    assert first.is_alive() is False
    assert observer_alive(watcher.observer)


def test_polling_mode_runs_no_observer(make_watcher):
    watcher = make_watcher(mode="polling")

    watcher.supervise()

    assert watcher.observer is None


def test_heartbeat_reports_pending_and_outage(make_watcher, courier_root, redis_client):
    inbox = courier_root / "inbox"
    for index in range(3):
        write_drop(inbox, f"Счёт {index}", drop_payload(), {f"Счёт {index}.pdf": fake_pdf("x")})
    watcher = make_watcher(settle_seconds=3600)

    watcher.turn()
    healthy, = read_heartbeats(redis_client)
    os.rename(inbox, courier_root / "inbox.away")
    watcher.turn()
    during, = read_heartbeats(redis_client)
    much_later, = read_heartbeats(redis_client, now=during.age_seconds + 10_000 + _now())

    assert healthy.pending == 3
    assert healthy.inbox_available is True
    assert healthy.last_scan_age_seconds < 5
    assert healthy.is_healthy(max_age_seconds=30)
    assert during.pending == 3
    assert during.inbox_available is False
    assert not much_later.is_healthy(max_age_seconds=30)


def _now() -> float:
    import time

    return time.time()


def test_loop_survives_failing_turn(make_watcher, monkeypatch, caplog, redis_client):
    watcher = make_watcher()
    real_supervise = watcher.supervise
    calls = []

    # Injected fault: the first supervision step raises, as a bug outside any drop would.
    def supervise():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("сбой супервизора")
        real_supervise()
    monkeypatch.setattr(watcher, "supervise", supervise)

    with caplog.at_level(logging.ERROR, logger="watcher"):
        loop = threading.Thread(target=watcher.run)
        loop.start()
        wait_for(lambda: read_heartbeats(redis_client), 10, message="a heartbeat after the fault")
        watcher.stop()
        loop.join(10)

    assert not loop.is_alive()
    assert "Сбой в цикле наблюдателя" in caplog.text
    assert read_heartbeats(redis_client) == []


MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
//fileserver/1c /mnt/1c cifs rw,vers=3.0,iocharset=utf8 0 0
/dev/sdb1 /mnt/1c/local ext4 rw 0 0
//fileserver/обмен /mnt/общая\\040папка smb3 rw 0 0
"""


@pytest.mark.parametrize("path, expected", [
    ("/srv/courier/inbox", "ext4"),
    ("/mnt/1c/courier/inbox", "cifs"),
    ("/mnt/1c/local/inbox", "ext4"),
    ("/mnt/общая папка/inbox", "smb3"),
])
def test_mount_type_of_path(tmp_path, path, expected):
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS, encoding="utf-8")

    assert mount_fs_type(path, mounts) == expected


def test_auto_mode_follows_mount_type(monkeypatch, tmp_path):
    monkeypatch.setattr("watcher.observer.mount_fs_type", lambda _path: "cifs")
    network = choose_polling(WatcherMode.AUTO, tmp_path)
    forced_events = choose_polling(WatcherMode.EVENTS, tmp_path)
    monkeypatch.setattr("watcher.observer.mount_fs_type", lambda _path: "ext4")
    local = choose_polling(WatcherMode.AUTO, tmp_path)
    forced_polling = choose_polling(WatcherMode.POLLING, tmp_path)

    assert network is True
    assert forced_events is False
    assert local is False
    assert forced_polling is True


def test_unmounted_share_not_read_as_empty(make_watcher, courier_root, monkeypatch):
    # No share can be mounted here, so the mount table lookup is replaced: the inbox was
    # on CIFS at start, then the share went away and a local, empty mount point remained.
    monkeypatch.setattr("watcher.service.mount_fs_type", lambda _path: "cifs")
    inbox = courier_root / "inbox"
    write_drop(inbox, "Акт 9", drop_payload(), {"Акт 9.pdf": fake_pdf("act")})
    watcher = make_watcher(mode="polling", settle_seconds=3600)
    watcher.turn()

    monkeypatch.setattr("watcher.service.mount_fs_type", lambda _path: "ext4")
    os.rename(inbox, courier_root / "inbox.share")
    inbox.mkdir()
    watcher.turn()
    during = (watcher.inbox_available, len(watcher.tracker))

    inbox.rmdir()
    os.rename(courier_root / "inbox.share", inbox)
    monkeypatch.setattr("watcher.service.mount_fs_type", lambda _path: "cifs")
    watcher.turn()

    assert during == (False, 1)
    assert watcher.inbox_available is True
    assert len(watcher.tracker) == 1
