"""The ingest bound: the least work that claiming and queueing a drop can take.

    python -m bench.rawloop INBOX WORK REDIS_URL QUEUE

One pass over the inbox with os.scandir; for each sidecar it makes work/<id>/, renames
the sidecar and the files with its stem into it, and pushes the id onto a Redis list
(one round trip per drop). No parsing, no settle time, no checks: the benchmark compares
the watcher's claim rate with this loop's.
"""

import os
import sys
import uuid

import redis


def claim_all(inbox: str, work: str, client: redis.Redis, queue: str) -> int:
    """Move every drop of the inbox into its own folder under `work`; return the count."""
    with os.scandir(inbox) as entries:
        names = [entry.name for entry in entries]
    by_stem: dict[str, list[str]] = {}
    for name in names:
        by_stem.setdefault(name.rsplit(".", 1)[0], []).append(name)

    claimed = 0
    for name in names:
        if not name.endswith(".json"):
            continue
        drop_id = uuid.uuid4().hex
        folder = os.path.join(work, drop_id)
        os.mkdir(folder)
        for member in by_stem[name[:-len(".json")]]:
            os.rename(os.path.join(inbox, member), os.path.join(folder, member))
        client.lpush(queue, drop_id)
        claimed += 1
    return claimed


def main() -> int:
    inbox, work, redis_url, queue = sys.argv[1:5]
    client = redis.Redis.from_url(redis_url)
    claimed = claim_all(inbox, work, client, queue)
    print(f"Захвачено дропов: {claimed}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
