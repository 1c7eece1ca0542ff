"""The dedup ledger against a real redis-server: leases, sent records, versions, rebuild.

The DropDeliverer tests run the delivery service in this process over real HTTP to the
sandbox, so the ledger's effect shows as uploads the sandbox did or did not receive.
"""

import json
import threading
import uuid
from pathlib import Path

import pytest

from config import Settings
from delivery.client import ConnectClient
from delivery.comments import NEW_VERSION_NOTE
from delivery.directory import RecipientDirectory
from delivery.drop import load_claimed_drop
from delivery.errors import LedgerRebuildingError, TransientDeliveryError
from delivery.folders import CourierFolders, atomic_write_json
from delivery.ledger import LEASE_INDEX_KEY, DeliveryLedger
from delivery.rebuild import READY_KEY, REBUILD_LOCK_KEY, LedgerGuard
from delivery.results import finish_drop
from delivery.service import DropDeliverer
from delivery.status import DocumentState
from tests.conftest import DEMO, LINE_ID, SUBSCRIBERS
from tests.work_drops import invoice_drop, upload_counts, write_claimed_drop

IVANOV = SUBSCRIBERS[0]["user_id"]
KUZNETSOVA = SUBSCRIBERS[1]["user_id"]
DAY_SECONDS = 86400


class Clock:
    """A settable clock in Unix seconds."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ledger(redis_client, clock):
    return DeliveryLedger(redis_client, dedup_days=90, clock=clock)


KEY = DeliveryLedger.key("doc-1", LINE_ID, IVANOV)


# --- the ledger on its own ---

def test_lease_blocks_other_drop_until_expiry(ledger, clock):
    assert ledger.acquire_lease(KEY, "v1", "drop-a", lease_seconds=60)

    assert not ledger.acquire_lease(KEY, "v1", "drop-b", lease_seconds=60)
    assert ledger.acquire_lease(KEY, "v1", "drop-a", lease_seconds=60)
    assert ledger.lookup(KEY, "v1").lease_holder == "drop-a"

    clock.now += 61
    assert ledger.lookup(KEY, "v1").lease_holder is None
    assert ledger.acquire_lease(KEY, "v1", "drop-b", lease_seconds=60)


def test_released_lease_free_for_retry(ledger):
    ledger.acquire_lease(KEY, "v1", "drop-a", lease_seconds=60)

    ledger.release_lease(KEY, "v1")

    assert ledger.acquire_lease(KEY, "v1", "drop-b", lease_seconds=60)


def test_sent_version_blocks_lease_and_reads_back(ledger):
    ledger.acquire_lease(KEY, "v1", "drop-a", lease_seconds=60)

    ledger.mark_sent(KEY, "v1", {"drop_id": "drop-a", "sent_at": "2027-01-15T08:00:00+00:00"})

    entry = ledger.lookup(KEY, "v1")
    assert entry.sent["drop_id"] == "drop-a"
    assert entry.lease_holder is None
    assert not entry.other_versions_sent
    assert not ledger.acquire_lease(KEY, "v1", "drop-b", lease_seconds=60)


def test_other_version_counts_as_earlier_version(ledger):
    ledger.mark_sent(KEY, "v1", {"drop_id": "drop-a"})

    entry = ledger.lookup(KEY, "v2")

    assert entry.sent is None
    assert entry.other_versions_sent
    assert ledger.acquire_lease(KEY, "v2", "drop-b", lease_seconds=60)


def test_sent_record_expires_after_dedup_days(ledger, clock, redis_client):
    ledger.mark_sent(KEY, "v1", {"drop_id": "drop-a"})
    assert 89 * DAY_SECONDS < redis_client.ttl(KEY) <= 90 * DAY_SECONDS

    clock.now += 90 * DAY_SECONDS + 1

    entry = ledger.lookup(KEY, "v1")
    assert entry.sent is None
    assert not entry.other_versions_sent


def test_expired_lease_found_and_cleared(ledger, clock, redis_client):
    ledger.acquire_lease(KEY, "v1", "drop-a", lease_seconds=60)
    assert ledger.expired_leases() == []

    clock.now += 61
    expired = ledger.expired_leases()

    assert [(lease.key, lease.version, lease.drop_id) for lease in expired] == [
        (KEY, "v1", "drop-a")]
    ledger.clear_expired_lease(expired[0])
    assert ledger.expired_leases() == []
    assert not redis_client.hexists(KEY, "lease:v1")


def test_renewed_lease_survives_clearing(ledger, clock):
    ledger.acquire_lease(KEY, "v1", "drop-a", lease_seconds=60)
    clock.now += 61
    expired = ledger.expired_leases()

    ledger.acquire_lease(KEY, "v1", "drop-a", lease_seconds=60)
    ledger.clear_expired_lease(expired[0])

    assert ledger.lookup(KEY, "v1").lease_holder == "drop-a"


def test_sent_removes_lease_from_index(ledger, redis_client):
    ledger.acquire_lease(KEY, "v1", "drop-a", lease_seconds=60)

    ledger.mark_sent(KEY, "v1", {"drop_id": "drop-a"})

    assert redis_client.zcard(LEASE_INDEX_KEY) == 0


# --- rebuild from receipts ---

def write_receipt(folder: Path, drop_id: str, document_id: str, version: str,
                  recipients: list[dict], *, line_id: str | None = LINE_ID,
                  state: str = "delivered") -> None:
    folder.mkdir(parents=True)
    receipt = {"drop_id": drop_id, "document_id": document_id, "state": state,
               "content_sha256": version, "files": [], "recipients": recipients}
    if line_id is not None:
        receipt["line_id"] = line_id
    atomic_write_json(folder / "receipt.json", receipt)


def delivered(user_id: str, at: str) -> dict:
    return {"user_id": user_id, "state": "delivered", "delivered_at": at}


def test_rebuild_restores_every_receipt_location(courier_root, redis_client):
    folders = CourierFolders(courier_root)
    ledger = DeliveryLedger(redis_client, dedup_days=100_000)
    write_receipt(folders.sent / "2027-01-15" / "20270115-080000-000001-aaaaaa",
                  "20270115-080000-000001-aaaaaa", "doc-1", "v1",
                  [delivered(IVANOV, "2027-01-15T08:00:01+00:00")])
    write_receipt(folders.sent / "2027-01-16" / "20270116-080000-000001-bbbbbb",
                  "20270116-080000-000001-bbbbbb", "doc-1", "v1",
                  [{"user_id": IVANOV, "state": "duplicate", "delivered_at": None}],
                  state="duplicate")
    write_receipt(folders.failed / "20270117-080000-000001-cccccc",
                  "20270117-080000-000001-cccccc", "doc-2", "v9",
                  [delivered(KUZNETSOVA, "2027-01-17T08:00:01+00:00"),
                   {"user_id": IVANOV, "state": "failed", "delivered_at": None}],
                  state="partially_delivered")
    write_receipt(folders.work / "20270118-080000-000001-dddddd",
                  "20270118-080000-000001-dddddd", "doc-3", "v5",
                  [delivered(IVANOV, "2027-01-18T08:00:01+00:00")], line_id=None,
                  state="sending")
    guard = LedgerGuard(redis_client, ledger, folders, LINE_ID, wait_seconds=5)

    guard.ensure_ready()

    first = ledger.lookup(ledger.key("doc-1", LINE_ID, IVANOV), "v1").sent
    assert first["drop_id"] == "20270115-080000-000001-aaaaaa"
    assert ledger.lookup(ledger.key("doc-2", LINE_ID, KUZNETSOVA), "v9").sent is not None
    assert ledger.lookup(ledger.key("doc-2", LINE_ID, IVANOV), "v9").sent is None
    assert ledger.lookup(ledger.key("doc-3", LINE_ID, IVANOV), "v5").sent is not None
    marker = json.loads(redis_client.get(READY_KEY))
    assert marker["receipts"] == 4
    assert marker["restored"] == 3


def test_rebuild_runs_once_while_marker_stands(courier_root, redis_client):
    folders = CourierFolders(courier_root)
    ledger = DeliveryLedger(redis_client, dedup_days=100_000)
    guard = LedgerGuard(redis_client, ledger, folders, LINE_ID, wait_seconds=5)
    guard.ensure_ready()
    write_receipt(folders.sent / "2027-01-15" / "20270115-080000-000001-aaaaaa",
                  "20270115-080000-000001-aaaaaa", "doc-1", "v1",
                  [delivered(IVANOV, "2027-01-15T08:00:01+00:00")])

    guard.ensure_ready()

    assert ledger.lookup(ledger.key("doc-1", LINE_ID, IVANOV), "v1").sent is None


def test_rebuild_skips_records_past_dedup_days(courier_root, redis_client):
    folders = CourierFolders(courier_root)
    ledger = DeliveryLedger(redis_client, dedup_days=90)
    write_receipt(folders.sent / "2020-01-15" / "20200115-080000-000001-aaaaaa",
                  "20200115-080000-000001-aaaaaa", "doc-1", "v1",
                  [delivered(IVANOV, "2020-01-15T08:00:01+00:00")])

    LedgerGuard(redis_client, ledger, folders, LINE_ID, wait_seconds=5).ensure_ready()

    assert ledger.lookup(ledger.key("doc-1", LINE_ID, IVANOV), "v1").sent is None
    assert redis_client.exists(READY_KEY)


def test_deliveries_wait_for_rebuild_lock(courier_root, redis_client):
    folders = CourierFolders(courier_root)
    ledger = DeliveryLedger(redis_client, dedup_days=90)
    other_worker = redis_client.lock(REBUILD_LOCK_KEY, timeout=30)
    assert other_worker.acquire(blocking=False)
    guard = LedgerGuard(redis_client, ledger, folders, LINE_ID, wait_seconds=0.5)

    with pytest.raises(LedgerRebuildingError):
        guard.ensure_ready()

    other_worker.release()
    guard.ensure_ready()
    assert guard.is_ready()


def test_concurrent_guards_rebuild_once(courier_root, redis_client, caplog):
    folders = CourierFolders(courier_root)
    ledger = DeliveryLedger(redis_client, dedup_days=90)
    guards = [LedgerGuard(redis_client, ledger, folders, LINE_ID, wait_seconds=10)
              for _ in range(4)]
    threads = [threading.Thread(target=guard.ensure_ready) for guard in guards]

    with caplog.at_level("WARNING", logger="delivery.rebuild"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(15)

    rebuilt = [record for record in caplog.records if "восстановлен за" in record.getMessage()]
    assert len(rebuilt) == 1


# --- the delivery service over HTTP to the sandbox ---

@pytest.fixture
def deliverer(courier_root, redis_url, redis_client, sandbox):
    settings = Settings(COURIER_ROOT=courier_root, REDIS_URL=redis_url,
                        CONNECT_BASE_URL=sandbox.url, CONNECT_LOGIN=DEMO.login,
                        CONNECT_PASSWORD=DEMO.password, CONNECT_LINE_ID=LINE_ID)
    client = ConnectClient(sandbox.url, DEMO.login, DEMO.password)
    directory = RecipientDirectory(redis_client, "test-account", client.list_subscribers)
    ledger = DeliveryLedger(redis_client, settings.DEDUP_DAYS)
    guard = LedgerGuard(redis_client, ledger, CourierFolders(courier_root), LINE_ID,
                        wait_seconds=5)
    return DropDeliverer(settings, client, directory, ledger, redis_client, guard)


def claimed(root: Path, drop_id: str):
    return load_claimed_drop(root / "work" / drop_id)


def test_same_content_again_is_duplicate_with_pointer(deliverer, courier_root, sandbox):
    document_id = str(uuid.uuid4())
    first = invoice_drop(courier_root, "БП-1", [IVANOV], document_id=document_id)
    first_outcome = deliverer.deliver(claimed(courier_root, first.drop_id))
    finish_drop(CourierFolders(courier_root), claimed(courier_root, first.drop_id),
                first_outcome)
    second = invoice_drop(courier_root, "БП-1", [IVANOV], document_id=document_id)

    outcome = deliverer.deliver(claimed(courier_root, second.drop_id))

    assert first_outcome.state is DocumentState.DELIVERED
    assert outcome.state is DocumentState.DUPLICATE
    assert outcome.duplicate_of["drop_id"] == first.drop_id
    assert first.drop_id in outcome.message
    assert sum(upload_counts(sandbox, [first]).values()) == 1


def test_changed_content_sent_as_new_version(deliverer, courier_root, sandbox):
    document_id = str(uuid.uuid4())
    first = invoice_drop(courier_root, "БП-2 v1", [IVANOV], document_id=document_id)
    deliverer.deliver(claimed(courier_root, first.drop_id))
    second = invoice_drop(courier_root, "БП-2 v2", [IVANOV], document_id=document_id)

    outcome = deliverer.deliver(claimed(courier_root, second.drop_id))

    assert outcome.state is DocumentState.DELIVERED
    comments = [record["meta"].get("comment") or "" for record in sandbox.received()]
    assert not comments[0].startswith(NEW_VERSION_NOTE)
    assert comments[1].startswith(NEW_VERSION_NOTE)


def test_permanent_failure_of_one_recipient_is_partial(deliverer, courier_root, sandbox):
    stranger = str(uuid.uuid4())
    drop = invoice_drop(courier_root, "БП-3", [IVANOV, stranger])

    outcome = deliverer.deliver(claimed(courier_root, drop.drop_id))

    assert outcome.state is DocumentState.PARTIALLY_DELIVERED
    states = [record["state"] for record in outcome.recipients]
    assert states == ["delivered", "failed"]
    assert outcome.recipients[1]["error"]["http_status"] == 403
    assert sandbox.stats()["by_status"] == {200: 1, 403: 1}


def test_retry_after_partial_sends_only_owed(deliverer, courier_root, sandbox):
    stranger = str(uuid.uuid4())
    drop = invoice_drop(courier_root, "БП-4", [IVANOV, stranger])
    deliverer.deliver(claimed(courier_root, drop.drop_id))

    deliverer.forget_progress(drop.drop_id)
    outcome = deliverer.deliver(claimed(courier_root, drop.drop_id))

    assert [record["state"] for record in outcome.recipients] == ["delivered", "failed"]
    assert sandbox.stats()["by_status"] == {200: 1, 403: 2}


def test_transient_failure_mid_drop_resumes_with_owed(deliverer, courier_root, sandbox):
    payload = {"document_id": str(uuid.uuid4()), "kind": "act",
               "recipients": [{"user_id": IVANOV}, {"email": SUBSCRIBERS[1]["email"]}],
               "files": ["Акт.pdf"]}
    drop_id = write_claimed_drop(courier_root, payload, {"Акт.pdf": b"%PDF-1.7 act 5"})
    sandbox.set_faults(503, count=1, path_prefix="/v1/line/subscribers/")

    with pytest.raises(TransientDeliveryError):
        deliverer.deliver(claimed(courier_root, drop_id))
    outcome = deliverer.deliver(claimed(courier_root, drop_id))

    assert outcome.state is DocumentState.DELIVERED
    users = [record["meta"]["user_id"] for record in sandbox.received()]
    assert users == [IVANOV, KUZNETSOVA]


def test_interim_receipt_stands_in_for_lost_progress(deliverer, courier_root, sandbox,
                                                     redis_client):
    payload = {"document_id": str(uuid.uuid4()), "kind": "act",
               "recipients": [{"user_id": IVANOV}, {"email": SUBSCRIBERS[1]["email"]}],
               "files": ["Акт.pdf"]}
    drop_id = write_claimed_drop(courier_root, payload, {"Акт.pdf": b"%PDF-1.7 act 6"})
    sandbox.set_faults(503, count=1, path_prefix="/v1/line/subscribers/")
    with pytest.raises(TransientDeliveryError):
        deliverer.deliver(claimed(courier_root, drop_id))

    redis_client.flushall()
    outcome = deliverer.deliver(claimed(courier_root, drop_id))

    assert [record["state"] for record in outcome.recipients] == ["delivered", "delivered"]
    assert len(sandbox.received()) == 2


def test_lost_ledger_rebuilt_before_next_delivery(deliverer, courier_root, sandbox,
                                                  redis_client):
    folders = CourierFolders(courier_root)
    document_id = str(uuid.uuid4())
    first = invoice_drop(courier_root, "БП-7", [IVANOV], document_id=document_id)
    finish_drop(folders, claimed(courier_root, first.drop_id),
                deliverer.deliver(claimed(courier_root, first.drop_id)))

    redis_client.flushall()
    again = invoice_drop(courier_root, "БП-7", [IVANOV], document_id=document_id)
    outcome = deliverer.deliver(claimed(courier_root, again.drop_id))

    assert outcome.state is DocumentState.DUPLICATE
    assert outcome.duplicate_of["drop_id"] == first.drop_id
    assert redis_client.exists(READY_KEY)
    assert len(sandbox.received()) == 1
