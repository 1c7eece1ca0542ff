"""Records of accepted sends and per-status counts of /v1/ responses."""

from __future__ import annotations

import copy
import threading
from collections import Counter
from typing import Any, Callable

# Keys of a send record, in the order the control API shows them.
RECORD_KEYS = (
    "seq",
    "kind",
    "path",
    "login",
    "meta",
    "filename",
    "content_type",
    "size",
    "sha256",
    "stored_path",
    "first_byte_at",
    "completed_at",
)


class Recorder:
    """Thread-safe journal of accepted sends and per-status response counts.

    A record is a dict with RECORD_KEYS. `seq` counts from 1. `kind` is "message",
    "file" or "image". `meta` is the JSON object as received. `filename`,
    `content_type`, `size` (bytes), `sha256` (hex) and `stored_path` describe the file
    part, and they are None for messages. `first_byte_at` and `completed_at` are Unix
    times in seconds.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._statuses: Counter[int] = Counter()
        self._dropped = 0
        self._aborted = 0

    def add(
        self,
        record: dict[str, Any],
        store: Callable[[int], str | None] | None = None,
    ) -> dict[str, Any]:
        """Append a send record and return a copy with its sequence number.

        `store(seq)` runs under the journal's lock, so a stored file can be renamed
        after its sequence number before any reader sees the record. It returns the
        final path or None.
        """
        with self._lock:
            seq = len(self._records) + 1
            stored_path = store(seq) if store is not None else None
            full = {key: record.get(key) for key in RECORD_KEYS}
            full.update(seq=seq, stored_path=stored_path)
            self._records.append(full)
            return copy.deepcopy(full)

    def count_response(self, status: int) -> None:
        with self._lock:
            self._statuses[status] += 1

    def count_dropped(self) -> None:
        """Count a connection that the "down" switch closed without a response."""
        with self._lock:
            self._dropped += 1

    def count_aborted(self) -> None:
        """Count a request whose client closed the connection before sending the whole body."""
        with self._lock:
            self._aborted += 1

    def records(self, since: int = 0) -> list[dict[str, Any]]:
        """Return copies of the records whose sequence number is greater than `since`."""
        with self._lock:
            return [copy.deepcopy(item) for item in self._records[max(since, 0):]]

    def stats(self) -> dict[str, Any]:
        """Return the /v1/ request counts: total, by status, 429s, dropped, aborted, recorded."""
        with self._lock:
            responded = sum(self._statuses.values())
            return {
                "total_requests": responded + self._dropped + self._aborted,
                "by_status": dict(sorted(self._statuses.items())),
                "rate_limited": self._statuses.get(429, 0),
                "dropped_connections": self._dropped,
                "aborted_by_client": self._aborted,
                "received": len(self._records),
            }

    def reset(self) -> None:
        """Forget every record and count, so sequence numbers start from 1 again."""
        with self._lock:
            self._records.clear()
            self._statuses.clear()
            self._dropped = 0
            self._aborted = 0
