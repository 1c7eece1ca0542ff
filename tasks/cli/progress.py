"""Per-drop delivery progress in Redis, as an admin's retry or forced resend resets it.

The worker (delivery.service.DropDeliverer) keeps one hash `courier:drop:{drop_id}` with
a JSON record per recipient index, and one set `courier:progress:{drop_id}:{user_id}`
of file names already uploaded to that recipient. The dedup ledger keys are
`courier:ledger:{document_id}:{line_id}:{user_id}` with one field per content hash.
"""

import json

import redis

from delivery.drop import ClaimedDrop, file_sha256
from delivery.ledger import DeliveryLedger, content_hash
from delivery.service import PROGRESS_TTL_SECONDS
from delivery.status import RecipientState


def records_key(drop_id: str) -> str:
    return f"courier:drop:{drop_id}"


def stored_records(redis_client: redis.Redis, drop_id: str) -> list[dict]:
    """Return the worker's per-recipient records of a drop in recipient order."""
    stored = redis_client.hgetall(records_key(drop_id))
    ordered = sorted(stored.items(), key=lambda item: int(item[0]))
    return [json.loads(raw) for _, raw in ordered]


def reset_failed_recipients(redis_client: redis.Redis, drop_id: str) -> list[dict]:
    """Set every failed recipient record back to pending and return all records after that.

    Delivered and duplicate records stay as they are, so the next run skips them, and
    the ledger would stop a second upload to them anyway. Per-file progress is kept, so a
    recipient who already got some of the files gets only the rest.
    """
    key = records_key(drop_id)
    stored = redis_client.hgetall(key)
    updates = {}
    for index, raw in stored.items():
        record = json.loads(raw)
        if record.get("state") == RecipientState.FAILED.value:
            record.update(state=RecipientState.PENDING.value, error=None)
            updates[index] = json.dumps(record, ensure_ascii=False)
    if updates:
        with redis_client.pipeline() as pipe:
            pipe.hset(key, mapping=updates)
            pipe.expire(key, PROGRESS_TTL_SECONDS)
            pipe.execute()
    return stored_records(redis_client, drop_id)


def clear_progress(redis_client: redis.Redis, drop_id: str) -> int:
    """Delete the recipient records and per-file progress of a drop, returning the key count."""
    keys = [records_key(drop_id)]
    keys += list(redis_client.scan_iter(match=f"courier:progress:{drop_id}:*"))
    return redis_client.delete(*keys)


def drop_version(drop: ClaimedDrop) -> str:
    """Hash the drop's content exactly as the worker does before it checks the ledger."""
    file_hashes = [file_sha256(path) for path in drop.file_paths]
    return content_hash(file_hashes, drop.sidecar.comment)


def forget_version(redis_client: redis.Redis, ledger: DeliveryLedger, document_id: str,
                   line_id: str, version: str) -> int:
    """Forget that `version` of the document went to anyone on the line, returning the key count.

    Other versions stay in the ledger, so recipients still get the "updated version"
    note when the resent content differs from what they saw before.
    """
    pattern = DeliveryLedger.key(document_id, line_id, "*")
    forgotten = 0
    for key in redis_client.scan_iter(match=pattern):
        name = key.decode() if isinstance(key, bytes) else key
        if redis_client.hexists(name, version) or redis_client.hexists(name, f"lease:{version}"):
            ledger.forget(name, version)
            forgotten += 1
    return forgotten
