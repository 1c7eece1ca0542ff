"""Resolve recipients given by e-mail or phone through the line's subscriber directory.

The directory is cached in one Redis hash per API account; beat refreshes it, and a
lookup that misses refreshes it once more before the recipient is declared unknown.
"""

import logging
import re
import time

import redis

from delivery.errors import RecipientRejectedError
from delivery.sidecar import Recipient

log = logging.getLogger(__name__)

# A miss refreshes the cache only when it is older than this, s.
MISS_REFRESH_AFTER_SECONDS = 60


def email_key(email: str) -> str:
    """Directory key of an e-mail: addresses compare case-insensitively."""
    return "email:" + email.strip().casefold()


def phone_key(phone: str) -> str | None:
    """Directory key of a phone: digits only, Russian 8XXXXXXXXXX and XXXXXXXXXX as 7XXXXXXXXXX."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    elif len(digits) == 10:
        digits = "7" + digits
    return "phone:" + digits if len(digits) >= 10 else None


class RecipientDirectory:
    """Maps e-mails and phones to 1C-Connect user ids, cached in Redis."""

    def __init__(self, redis_client: redis.Redis, account: str, fetch_subscribers):
        self._redis = redis_client
        self._key = f"courier:directory:{account}"
        self._stamp_key = f"{self._key}:refreshed_at"
        self._fetch = fetch_subscribers

    def refresh(self) -> int:
        """Reload the directory from 1C-Connect; return how many subscribers it holds."""
        subscribers = self._fetch()
        mapping = {}
        for user in subscribers:
            user_id = user.get("user_id")
            if not user_id:
                continue
            if user.get("email"):
                mapping[email_key(user["email"])] = user_id
            key = phone_key(user.get("phone") or "")
            if key:
                mapping[key] = user_id

        staging = f"{self._key}:staging"
        with self._redis.pipeline() as pipe:
            pipe.delete(staging)
            if mapping:
                pipe.hset(staging, mapping=mapping)
                pipe.rename(staging, self._key)
            else:
                pipe.delete(self._key)
            pipe.set(self._stamp_key, time.time())
            pipe.execute()
        log.info("Справочник абонентов 1С-Коннект обновлён: %d абонентов.", len(subscribers))
        return len(subscribers)

    def resolve(self, recipient: Recipient) -> str:
        """Return the recipient's user id, or raise RecipientRejectedError if unknown."""
        if recipient.user_id:
            return recipient.user_id
        key = email_key(recipient.email) if recipient.email else phone_key(recipient.phone)
        user_id = self._lookup(key)
        if user_id is None and self._is_stale():
            self.refresh()
            user_id = self._lookup(key)
        if user_id is None:
            raise RecipientRejectedError(
                f"Получатель {recipient.address} не найден среди абонентов 1С-Коннект: "
                "проверьте e-mail или телефон в 1C либо укажите user_id получателя.",
                detail=f"directory lookup missed for {key.split(':')[0]}")
        return user_id

    def _lookup(self, key: str | None) -> str | None:
        if key is None:
            return None
        value = self._redis.hget(self._key, key)
        return value.decode() if value else None

    def _is_stale(self) -> bool:
        stamp = self._redis.get(self._stamp_key)
        return stamp is None or time.time() - float(stamp) > MISS_REFRESH_AFTER_SECONDS
