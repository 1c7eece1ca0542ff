"""The dedup ledger: which document version went to which recipient, kept in Redis.

One Redis hash per (document, line, recipient). Field `<content_hash>` records a finished
delivery (`sent`); field `lease:<content_hash>` records an upload in progress (`sending`)
that expires, so a worker that died mid-upload does not block the drop forever. A sorted
set indexes the leases by expiry time, so beat can find the drops whose task died.

Redis 7.0 has no per-field expiry, so a `sent` record older than DEDUP_DAYS is ignored on
read, and the whole hash expires DEDUP_DAYS after its last write.
"""

import hashlib
import json
import time
from dataclasses import dataclass

import redis

SECONDS_PER_DAY = 86400
LEASE_INDEX_KEY = "courier:ledger:leases"
LEASE_PREFIX = "lease:"
# Separates the hash key from the version in a lease index member; neither contains it.
_MEMBER_SEPARATOR = "\n"


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
    """Ledger state of one document version for one recipient."""

    sent: dict | None
    other_versions_sent: bool
    lease_holder: str | None


@dataclass(frozen=True)
class ExpiredLease:
    """A `sending` lease whose holder did not finish in time: the drop's task died."""

    key: str
    version: str
    drop_id: str | None


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
        sent_versions = {name: json.loads(value) for name, value in fields.items()
                         if not name.startswith(LEASE_PREFIX)}
        live = {name: record for name, record in sent_versions.items() if self._is_live(record)}
        others = any(name != version for name in live)
        lease = self._live_lease(fields.get(LEASE_PREFIX + version))
        return LedgerEntry(sent=live.get(version), other_versions_sent=others, lease_holder=lease)

    def acquire_lease(self, key: str, version: str, drop_id: str, lease_seconds: float) -> bool:
        """Take the `sending` lease for `version` unless it is sent or leased by another drop."""
        lease_field = LEASE_PREFIX + version
        with self._redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    sent = pipe.hget(key, version)
                    if sent is not None and self._is_live(json.loads(sent)):
                        return False
                    holder = self._live_lease(pipe.hget(key, lease_field))
                    if holder is not None and holder != drop_id:
                        return False
                    until = self._clock() + lease_seconds
                    pipe.multi()
                    pipe.hset(key, lease_field, json.dumps({"drop_id": drop_id, "until": until}))
                    pipe.expire(key, self._ttl_seconds)
                    pipe.zadd(LEASE_INDEX_KEY, {_member(key, version): until})
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue

    def mark_sent(self, key: str, version: str, record: dict) -> None:
        """Record a finished delivery of `version` and drop its lease."""
        record = {**record, "sent_ts": record.get("sent_ts", self._clock())}
        with self._redis.pipeline() as pipe:
            pipe.hset(key, version, json.dumps(record, ensure_ascii=False))
            pipe.hdel(key, LEASE_PREFIX + version)
            pipe.zrem(LEASE_INDEX_KEY, _member(key, version))
            pipe.expire(key, self._ttl_seconds)
            pipe.execute()

    def restore_sent(self, key: str, version: str, record: dict) -> bool:
        """Record an earlier delivery read from a receipt unless the ledger already has one.

        Returns False when the record is older than DEDUP_DAYS or already present, so
        replaying receipts oldest first keeps the first delivery as the one pointed to.
        """
        if not self._is_live(record):
            return False
        added = self._redis.hsetnx(key, version, json.dumps(record, ensure_ascii=False))
        remaining = int(self._ttl_seconds - (self._clock() - record["sent_ts"]))
        if added and self._redis.ttl(key) < remaining:
            self._redis.expire(key, max(1, remaining))
        return bool(added)

    def release_lease(self, key: str, version: str) -> None:
        """Give up the lease after a failed upload so a retry can take it again."""
        with self._redis.pipeline() as pipe:
            pipe.hdel(key, LEASE_PREFIX + version)
            pipe.zrem(LEASE_INDEX_KEY, _member(key, version))
            pipe.execute()

    def expired_leases(self, limit: int = 500) -> list[ExpiredLease]:
        """Return up to `limit` leases that expired without a `sent` record or a release."""
        members = self._redis.zrangebyscore(LEASE_INDEX_KEY, "-inf", self._clock(),
                                            start=0, num=limit)
        expired = []
        for member in members:
            key, _, version = member.decode().partition(_MEMBER_SEPARATOR)
            raw = self._redis.hget(key, LEASE_PREFIX + version)
            drop_id = json.loads(raw)["drop_id"] if raw else None
            expired.append(ExpiredLease(key, version, drop_id))
        return expired

    def clear_expired_lease(self, lease: ExpiredLease) -> None:
        """Remove an expired lease and its index entry, unless someone renewed it meanwhile."""
        with self._redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(lease.key)
                    holder = self._live_lease(pipe.hget(lease.key, LEASE_PREFIX + lease.version))
                    pipe.multi()
                    if holder is None:
                        pipe.hdel(lease.key, LEASE_PREFIX + lease.version)
                        pipe.zrem(LEASE_INDEX_KEY, _member(lease.key, lease.version))
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue

    def forget(self, key: str, version: str) -> None:
        """Remove the sent record of `version`: used by a forced resend."""
        with self._redis.pipeline() as pipe:
            pipe.hdel(key, version, LEASE_PREFIX + version)
            pipe.zrem(LEASE_INDEX_KEY, _member(key, version))
            pipe.execute()

    def _is_live(self, record: dict) -> bool:
        """Tell whether a sent record is younger than DEDUP_DAYS; records without a time count."""
        sent_ts = record.get("sent_ts")
        return sent_ts is None or self._clock() - sent_ts < self._ttl_seconds

    def _live_lease(self, raw: bytes | str | None) -> str | None:
        if not raw:
            return None
        record = json.loads(raw)
        return record["drop_id"] if record["until"] > self._clock() else None


def _member(key: str, version: str) -> str:
    return f"{key}{_MEMBER_SEPARATOR}{version}"
