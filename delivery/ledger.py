"""The dedup ledger: which document version went to which recipient, kept in Redis.

One Redis hash per (document, line, recipient). Field `<content_hash>` records a finished
delivery (`sent`); field `lease:<content_hash>` records an upload in progress (`sending`)
that expires, so a worker that died mid-upload does not block the drop forever.
"""

import hashlib
import json
import time
from dataclasses import dataclass

import redis

SECONDS_PER_DAY = 86400


def content_hash(file_hashes: list[str], text: str | None = None) -> str:
    """Hash a drop's content: the SHA-256 of each file in order, or the text of a text-only drop."""
    digest = hashlib.sha256()
    for value in file_hashes:
        digest.update(value.encode() + b"\n")
    if not file_hashes:
        digest.update(b"text:" + (text or "").encode("utf-8"))
    return digest.hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    """What the ledger knows about one document version and one recipient."""

    sent: dict | None
    other_versions_sent: bool
    lease_holder: str | None


class DeliveryLedger:
    """Records `sending` leases and `sent` deliveries per recipient and content version."""

    def __init__(self, redis_client: redis.Redis, dedup_days: int, *, clock=time.time):
        self._redis = redis_client
        self._ttl_seconds = dedup_days * SECONDS_PER_DAY
        self._clock = clock

    @staticmethod
    def key(document_id: str, line_id: str, user_id: str) -> str:
        return f"courier:ledger:{document_id}:{line_id}:{user_id}"

    def lookup(self, key: str, version: str) -> LedgerEntry:
        """Return the sent record for `version`, whether other versions went out, and the lease."""
        fields = {name.decode(): value for name, value in self._redis.hgetall(key).items()}
        sent = json.loads(fields[version]) if version in fields else None
        others = any(not name.startswith("lease:") and name != version for name in fields)
        lease = self._live_lease(fields.get(f"lease:{version}"))
        return LedgerEntry(sent=sent, other_versions_sent=others, lease_holder=lease)

    def acquire_lease(self, key: str, version: str, drop_id: str, lease_seconds: float) -> bool:
        """Take the `sending` lease for `version` unless it is sent or leased by another drop."""
        lease_field = f"lease:{version}"
        with self._redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    if pipe.hexists(key, version):
                        return False
                    holder = self._live_lease(pipe.hget(key, lease_field))
                    if holder is not None and holder != drop_id:
                        return False
                    record = {"drop_id": drop_id, "until": self._clock() + lease_seconds}
                    pipe.multi()
                    pipe.hset(key, lease_field, json.dumps(record))
                    pipe.expire(key, self._ttl_seconds)
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue

    def mark_sent(self, key: str, version: str, record: dict) -> None:
        """Record a finished delivery of `version` and drop its lease."""
        with self._redis.pipeline() as pipe:
            pipe.hset(key, version, json.dumps(record, ensure_ascii=False))
            pipe.hdel(key, f"lease:{version}")
            pipe.expire(key, self._ttl_seconds)
            pipe.execute()

    def release_lease(self, key: str, version: str) -> None:
        """Give up the lease after a failed upload so a retry can take it again."""
        self._redis.hdel(key, f"lease:{version}")

    def forget(self, key: str, version: str) -> None:
        """Remove the sent record of `version`: used by a forced resend."""
        self._redis.hdel(key, version, f"lease:{version}")

    def _live_lease(self, raw: bytes | str | None) -> str | None:
        if not raw:
            return None
        record = json.loads(raw)
        return record["drop_id"] if record["until"] > self._clock() else None
