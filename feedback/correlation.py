"""Correlation of a client's reply with a delivered document.

The worker remembers every delivery per (line_id, user_id) in a Redis sorted set scored
by the delivery time in seconds since the epoch. A reply counts for deliveries made at
most FEEDBACK_WINDOW_DAYS before it. Among those, it belongs to the document whose
number or title the text mentions, else to the most recent one that asked for feedback,
else to the most recent one.
"""

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import redis

KEY_PREFIX = "courier:feedback:deliveries"
SECONDS_PER_DAY = 86400

# A reply may carry a message_time this much earlier than our own delivery time,
# because 1C-Connect's clock and the worker's clock differ, s.
CLOCK_SKEW_SECONDS = 300

# A number's trailing digits count as a mention only from this length, so a rating or a
# clause number such as «п.3» does not point at document 3.
MIN_DIGITS_MENTION = 2


@dataclass(frozen=True)
class DeliveredDocument:
    """A document delivered to one client on one line, as remembered for correlation."""

    document_id: str
    number: str | None
    title: str | None
    drop_id: str
    delivered_at: str
    feedback_asked: bool


def deliveries_key(line_id: str, user_id: str) -> str:
    return f"{KEY_PREFIX}:{line_id.lower()}:{user_id.lower()}"


def remember_delivery(redis_client: redis.Redis, *, line_id: str, user_id: str,
                      document_id: str, number: str | None, title: str | None,
                      drop_id: str, delivered_at: str | datetime, feedback_asked: bool,
                      window_days: int) -> None:
    """Record that a document reached a client, so the client's replies can find it.

    `delivered_at` is an ISO 8601 time or an aware datetime. Entries older than the
    window are trimmed, and the key expires one window after the latest delivery.
    """
    moment = _as_datetime(delivered_at)
    member = json.dumps({
        "document_id": document_id, "number": number, "title": title, "drop_id": drop_id,
        "delivered_at": moment.isoformat(timespec="seconds"),
        "feedback_asked": bool(feedback_asked),
    }, ensure_ascii=False, sort_keys=True)
    window_seconds = window_days * SECONDS_PER_DAY + CLOCK_SKEW_SECONDS
    key = deliveries_key(line_id, user_id)

    with redis_client.pipeline() as pipe:
        pipe.zadd(key, {member: moment.timestamp()})
        pipe.zremrangebyscore(key, "-inf", time.time() - window_seconds)
        pipe.expire(key, window_seconds)
        pipe.execute()


def recent_deliveries(redis_client: redis.Redis, line_id: str, user_id: str, *,
                      replied_at: datetime, window_days: int) -> list[DeliveredDocument]:
    """Return the deliveries a reply sent at `replied_at` may refer to, newest first."""
    earliest = replied_at - timedelta(days=window_days)
    latest = replied_at + timedelta(seconds=CLOCK_SKEW_SECONDS)
    rows = redis_client.zrangebyscore(deliveries_key(line_id, user_id),
                                      earliest.timestamp(), latest.timestamp(),
                                      withscores=True)

    documents = []
    for member, score in rows:
        documents.append((score, DeliveredDocument(**json.loads(member))))
    documents.sort(key=lambda pair: (pair[0], pair[1].drop_id), reverse=True)
    return [document for _score, document in documents]


def match(text: str, deliveries: list[DeliveredDocument]) -> DeliveredDocument | None:
    """Choose the document a reply is about from `deliveries` (newest first)."""
    if not deliveries:
        return None

    folded = fold(text)
    for document in deliveries:
        if mentions(folded, document):
            return document

    for document in deliveries:
        if document.feedback_asked:
            return document
    return deliveries[0]


def mentions(folded_text: str, document: DeliveredDocument) -> bool:
    """Tell whether the folded text names the document's number or its full title."""
    for token in number_tokens(document.number):
        if _find_token(folded_text, token):
            return True
    return bool(document.title) and fold(document.title) in folded_text


def number_tokens(number: str | None) -> list[str]:
    """Return the ways a client may write a number: БП-000123, 000123 and 123.

    Only the whole number and its trailing digits (with and without leading zeros, at
    least MIN_DIGITS_MENTION digits) are tried.
    """
    if not number or not number.strip():
        return []

    tokens = [fold(number.strip())]
    digits = re.search(r"\d+$", number.strip())
    if digits:
        for variant in (digits.group(), digits.group().lstrip("0")):
            if len(variant) >= MIN_DIGITS_MENTION and variant not in tokens:
                tokens.append(variant)
    return tokens


def fold(text: str) -> str:
    """Case-fold and spell ё as е, as people type document names both ways."""
    return text.casefold().replace("ё", "е")


def _find_token(folded_text: str, token: str) -> bool:
    """Search a token that is not part of a longer word, number, date or fraction."""
    pattern = rf"(?<![\w./]){re.escape(token)}(?!\w)(?![./]\d)"
    return re.search(pattern, folded_text) is not None


def _as_datetime(value: str | datetime) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
