"""Fault scenarios against real processes: redis-server, Celery workers, beat and the sandbox.

Every worker runs with COURIER_TEST_TIMING=fast (backoff cap 2 s, visibility timeout
30 s), so retries and re-deliveries happen within seconds. Each test prints and records
its figures: drops lost, and duplicate uploads the sandbox saw, counted by
document_id + user_id + file SHA-256.
"""

import json
import os
import signal
import uuid

import pytest
import redis

from tests.conftest import DEMO, SUBSCRIBERS
from delivery.timing import FAST
from tests.processes import (
    celery_beat,
    celery_worker,
    child_pids,
    free_port,
    restart_redis,
    start_redis,
    wait_for,
)
from tests.work_drops import (
    delivered_drop_ids,
    invoice_drop,
    measure,
    peak_in_window,
    producer_app,
    queue_drops,
    read_status,
    upload_counts,
)

IVANOV = SUBSCRIBERS[0]["user_id"]
KUZNETSOVA = SUBSCRIBERS[1]["user_id"]
AUTH_ALERT = "отклоняет учётные данные API"


@pytest.fixture
def processes(tmp_path):
    """Start courier processes by name; every one still running is stopped at the end."""
    started = []

    def start(kind: str, env: dict, name: str, concurrency: int = 2):
        log_path = tmp_path / f"{name}.log"
        if kind == "worker":
            process = celery_worker(env, log_path, concurrency=concurrency, hostname=name)
        else:
            process = celery_beat(env, log_path, tmp_path / f"{name}-schedule")
        started.append(process.start())
        if kind == "worker":
            process.wait_for_output("ready.", timeout=60)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def producer(redis_url):
    app = producer_app(redis_url)
    yield app
    app.close()


def settle(root, drops, timeout: float) -> bool:
    """Wait until every drop sits in sent/; return False when the deadline passes first."""
    wanted = {drop.drop_id for drop in drops}
    try:
        wait_for(lambda: wanted <= delivered_drop_ids(root), timeout, interval=0.5,
                 message=f"{len(wanted)} drops in sent/")
    except TimeoutError:
        return False
    return True


def write_invoices(root, prefix: str, count: int, users=(IVANOV,)):
    return [invoice_drop(root, f"{prefix}-{index}", list(users)) for index in range(count)]


def test_server_errors_then_each_drop_delivered_once(fast_env, processes, producer,
                                                     redis_client, sandbox, courier_root,
                                                     record_figures):
    sandbox.set_faults(500, count=12, path_prefix="/v1/line/send/")
    processes("worker", fast_env, "w1")
    drops = write_invoices(courier_root, "E500", 20)

    queue_drops(producer, redis_client, drops)
    settle(courier_root, drops, timeout=60)

    figures = measure("first 12 uploads answer 500", courier_root, sandbox, drops)
    record_figures(figures)
    assert figures.lost == 0
    assert figures.duplicates == 0
    assert figures.missing_uploads == 0
    assert sandbox.stats()["by_status"].get(500) == 12


@pytest.mark.slow
def test_shared_rate_limit_keeps_sandbox_free_of_429(fast_env, processes, producer,
                                                     redis_client, sandbox, courier_root,
                                                     record_figures):
    sandbox.update_config(rate_per_second=20, rate_per_minute=150)
    env = {**fast_env, "CONNECT_RATE_PER_SECOND": "20", "CONNECT_RATE_PER_MINUTE": "150"}
    processes("worker", env, "w1")
    processes("worker", env, "w2")
    drops = write_invoices(courier_root, "RL", 200)

    queue_drops(producer, redis_client, drops)
    settle(courier_root, drops, timeout=180)

    figures = measure("200 drops, 4 worker processes, 20/s and 150/min", courier_root,
                      sandbox, drops)
    record_figures(figures)
    stats = sandbox.stats()
    arrivals = [record["first_byte_at"] for record in sandbox.received()]
    print(f"sandbox stats: {stats}; peak uploads in any 1 s: {peak_in_window(arrivals, 1)}, "
          f"in any 60 s: {peak_in_window(arrivals, 60)}")
    assert stats["rate_limited"] == 0
    assert figures.lost == 0
    assert figures.duplicates == 0
    assert figures.missing_uploads == 0


@pytest.mark.slow
def test_killed_worker_loses_no_drop(fast_env, processes, producer, redis_client, sandbox,
                                     courier_root, record_figures):
    sandbox.update_config(latency_ms=300)
    victim = processes("worker", fast_env, "victim")
    processes("worker", fast_env, "survivor")
    processes("beat", fast_env, "beat")
    drops = write_invoices(courier_root, "KILL", 30)

    queue_drops(producer, redis_client, drops)
    wait_for(lambda: len(sandbox.received()) >= 6, 60, message="6 uploads before the kill")
    victim.kill(signal.SIGKILL)
    wait_for(lambda: not victim.alive(), 10, message="the killed worker to exit")
    processes("worker", fast_env, "victim-restarted")
    settle(courier_root, drops, timeout=120)

    figures = measure("kill -9 of a 2-process worker mid-burst, then restart", courier_root,
                      sandbox, drops)
    record_figures(figures)
    assert figures.lost == 0
    assert figures.missing_uploads == 0
    # Only the uploads in flight in the killed worker's two pool processes can repeat.
    assert figures.duplicates <= 2


@pytest.mark.slow
def test_killed_pool_process_requeues_without_waiting(fast_env, processes, producer,
                                                     redis_client, sandbox, courier_root,
                                                     record_figures):
    sandbox.update_config(latency_ms=500)
    worker = processes("worker", fast_env, "w1")
    drops = write_invoices(courier_root, "POOL", 10)

    queue_drops(producer, redis_client, drops)
    wait_for(lambda: len(sandbox.received()) >= 2, 30, message="2 uploads before the kill")
    os.kill(child_pids(worker)[0], signal.SIGKILL)
    # Settling before the visibility timeout shows the message came back through
    # reject-on-worker-lost, not through Redis's sweep of unacked messages.
    settle(courier_root, drops, timeout=FAST.visibility_timeout_seconds - 5)

    figures = measure("kill -9 of one pool process mid-upload", courier_root, sandbox, drops)
    record_figures(figures)
    assert "WorkerLostError" in worker.output()
    assert figures.lost == 0
    assert figures.missing_uploads == 0
    assert figures.duplicates <= 1


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own, with AOF, that the test may restart."""
    port = free_port()
    process = start_redis(tmp_path / "private-redis", port)
    yield process, f"redis://127.0.0.1:{port}/0"
    process.stop()


@pytest.mark.slow
def test_redis_restart_loses_nothing_and_workers_resume(fast_env, processes, private_redis,
                                                        sandbox, courier_root,
                                                        record_figures):
    server, url = private_redis
    env = {**fast_env, "REDIS_URL": url}
    client = redis.Redis.from_url(url)
    app = producer_app(url)
    sandbox.update_config(latency_ms=100)
    workers = [processes("worker", env, "w1"), processes("worker", env, "w2")]
    before = write_invoices(courier_root, "RR-before", 30)
    queue_drops(app, client, before)
    wait_for(lambda: len(sandbox.received()) >= 6, 60, message="6 uploads before the restart")

    def workers_retried_twice():
        # Two failed reconnects per worker keep Redis down for a few seconds, longer
        # than a task's in-flight Redis commands can wait without the client's retries.
        wait_for(lambda: all(worker.output().count("Trying again in") >= 2
                             for worker in workers), 60,
                 message="both workers to fail reconnecting twice")

    restart_redis(server, while_down=workers_retried_twice)
    after = write_invoices(courier_root, "RR-after", 5)
    queue_drops(app, client, after)
    settle(courier_root, before + after, timeout=150)
    app.close()

    figures = measure("Redis restarted mid-burst, workers not restarted", courier_root,
                      sandbox, before + after)
    record_figures(figures)
    assert all(worker.alive() for worker in workers)
    assert figures.lost == 0
    assert figures.missing_uploads == 0
    # At most the uploads in flight in the four pool processes can repeat.
    assert figures.duplicates <= 4


def test_sandbox_down_then_back_delivers_all(fast_env, processes, producer, redis_client,
                                             sandbox, courier_root, record_figures):
    sandbox.set_faults(down=True)
    processes("worker", fast_env, "w1")
    drops = write_invoices(courier_root, "DOWN", 5)

    queue_drops(producer, redis_client, drops)
    wait_for(lambda: sandbox.stats()["dropped_connections"] >= 20, 60,
             message="four failed tries per drop while the sandbox is down")
    statuses = [read_status(courier_root, drop.document_id) for drop in drops]
    sandbox.clear_faults()
    settle(courier_root, drops, timeout=60)

    figures = measure("sandbox down for 20+ tries, then back", courier_root, sandbox, drops)
    record_figures(figures)
    assert {status["state"] for status in statuses if status} <= {"retrying", "sending"}
    assert not list((courier_root / "failed").iterdir())
    assert figures.lost == 0
    assert figures.duplicates == 0


def test_wrong_password_keeps_drops_until_fixed(fast_env, processes, producer, redis_client,
                                                sandbox, courier_root, record_figures):
    # Max age 3.6 s: the 401 phase outlasts it, and still nothing may be failed.
    env = {**fast_env, "DELIVERY_MAX_AGE_HOURS": "0.001"}
    sandbox.update_config(password="rotated-by-someone-else")
    worker = processes("worker", env, "w1")
    drops = write_invoices(courier_root, "AUTH", 5)

    queue_drops(producer, redis_client, drops)
    wait_for(lambda: sandbox.stats()["by_status"].get(401, 0) >= 20, 60,
             message="four 401 answers per drop")
    statuses = [read_status(courier_root, drop.document_id) for drop in drops]
    failed_during_outage = list((courier_root / "failed").iterdir())
    sandbox.update_config(password=DEMO.password)
    settle(courier_root, drops, timeout=60)

    figures = measure("wrong API password, then fixed", courier_root, sandbox, drops)
    record_figures(figures)
    assert failed_during_outage == []
    assert all(status["state"] == "queued" for status in statuses)
    assert all("отклонил учётные данные API" in status["message"] for status in statuses)
    assert worker.output().count(AUTH_ALERT) == 1
    assert figures.lost == 0
    assert figures.duplicates == 0


def test_unknown_user_fails_at_once(fast_env, processes, producer, redis_client, sandbox,
                                    courier_root, record_figures):
    stranger = str(uuid.uuid4())
    processes("worker", fast_env, "w1")
    alone = invoice_drop(courier_root, "STRANGER", [stranger])
    mixed = invoice_drop(courier_root, "MIXED", [IVANOV, stranger])

    queue_drops(producer, redis_client, [alone, mixed])
    wait_for(lambda: all((courier_root / "failed" / drop.drop_id / "error.json").exists()
                         for drop in (alone, mixed)), 30, message="both drops in failed/")

    alone_error = json.loads((courier_root / "failed" / alone.drop_id / "error.json")
                             .read_text("utf-8"))
    mixed_receipt = json.loads((courier_root / "failed" / mixed.drop_id / "receipt.json")
                               .read_text("utf-8"))
    assert alone_error["state"] == "failed"
    assert "подписан" in alone_error["message"]
    assert read_status(courier_root, alone.document_id)["state"] == "failed"
    assert mixed_receipt["state"] == "partially_delivered"
    assert [item["state"] for item in mixed_receipt["recipients"]] == ["delivered", "failed"]
    assert [item["attempts"] for item in mixed_receipt["recipients"]] == [1, 1]
    # One 403 per drop: neither is retried, and no task can reach them once in failed/.
    assert sandbox.stats()["by_status"].get(403) == 2
    assert not list((courier_root / "work").iterdir())
    counts = upload_counts(sandbox, [mixed])
    assert list(counts.values()) == [1]


def test_lost_ledger_rebuilt_before_delivery_resumes(fast_env, processes, producer,
                                                     redis_client, sandbox, courier_root,
                                                     record_figures):
    worker = processes("worker", fast_env, "w1")
    document_id = str(uuid.uuid4())
    first = invoice_drop(courier_root, "LEDGER", [IVANOV], document_id=document_id)
    queue_drops(producer, redis_client, [first])
    assert settle(courier_root, [first], timeout=30)

    redis_client.flushall()
    again = invoice_drop(courier_root, "LEDGER", [IVANOV], document_id=document_id)
    changed = invoice_drop(courier_root, "LEDGER v2", [IVANOV], document_id=document_id)
    queue_drops(producer, redis_client, [again])
    settle(courier_root, [again], timeout=30)
    queue_drops(producer, redis_client, [changed])
    settle(courier_root, [first, again, changed], timeout=30)

    figures = measure("Redis lost the ledger between two copies of a document",
                      courier_root, sandbox, [first, again, changed])
    record_figures(figures)
    receipt = json.loads(next((courier_root / "sent").glob(f"*/{again.drop_id}/receipt.json"))
                         .read_text("utf-8"))
    assert receipt["state"] == "duplicate"
    assert receipt["duplicate_of"]["drop_id"] == first.drop_id
    comments = [record["meta"].get("comment", "") for record in sandbox.received()]
    assert len(comments) == 2
    assert comments[1].startswith("Обновлённая версия")
    assert "восстановлен" in worker.output()
    assert figures.lost == 0
    assert figures.duplicates == 0


def test_transient_errors_fail_drop_after_max_age(fast_env, processes, producer,
                                                  redis_client, sandbox, courier_root):
    env = {**fast_env, "DELIVERY_MAX_AGE_HOURS": "0.001"}
    sandbox.set_faults(503, count=None, path_prefix="/v1/line/send/")
    processes("worker", env, "w1")
    drop = invoice_drop(courier_root, "EXPIRE", [IVANOV])

    queue_drops(producer, redis_client, [drop])
    error_path = courier_root / "failed" / drop.drop_id / "error.json"
    wait_for(error_path.exists, 30, message="the expired drop in failed/")

    error = json.loads(error_path.read_text("utf-8"))
    receipt = json.loads((error_path.parent / "receipt.json").read_text("utf-8"))
    assert error["state"] == "failed"
    assert "503" in error["message"]
    assert receipt["files"][0]["sha256"] == drop.file_hashes[0]
    assert receipt["content_sha256"]
    assert sandbox.stats()["by_status"].get(503, 0) >= 2


def test_429_pauses_every_worker_then_delivers(fast_env, processes, producer, redis_client,
                                               sandbox, courier_root, record_figures):
    sandbox.set_faults(429, count=2, path_prefix="/v1/line/send/", retry_after=1)
    processes("worker", fast_env, "w1")
    drops = write_invoices(courier_root, "R429", 6)

    queue_drops(producer, redis_client, drops)
    settle(courier_root, drops, timeout=60)

    figures = measure("two 429 answers with Retry-After: 1", courier_root, sandbox, drops)
    record_figures(figures)
    assert figures.lost == 0
    assert figures.duplicates == 0
    assert redis_client.keys("courier:ratelimit:*:penalty")


def test_broker_channel_closes_after_transport_released(redis_url):
    from kombu import Connection, Exchange, Queue

    from tasks.application import CourierRedisTransport

    connection = Connection(redis_url, transport=CourierRedisTransport)
    channel = connection.default_channel
    queue = Queue("close-test", Exchange("close-test"), "close-test")
    queue(channel).declare()
    connection.Producer().publish({"drop_id": "x"}, exchange="close-test",
                                  routing_key="close-test")
    assert queue(channel).get(no_ack=False) is not None

    # The state a worker reaches after losing Redis: the transport's client is gone while
    # the channel still keeps an unacked message. Stock kombu 5.7.0 raises AttributeError.
    connection._do_close_transport()
    connection.maybe_close_channel(channel)

    assert channel.closed
