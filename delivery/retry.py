"""The retry policy, in one place: backoff with full jitter, a cap, Retry-After and a max age.

Every countdown stays below the broker's visibility timeout, because Redis re-delivers
an unacked message (a countdown retry held by a worker included) once that timeout
passes, and the retry would then run twice.
"""

import random
from dataclasses import dataclass

from delivery.errors import AuthenticationError, TransientDeliveryError

# Redis transport visibility timeout, s; the Celery app sets it from here.
VISIBILITY_TIMEOUT_SECONDS = 3600
# Hard and soft time limits of one delivery task, s; both below the visibility timeout.
TASK_TIME_LIMIT_SECONDS = 1800
TASK_SOFT_TIME_LIMIT_SECONDS = 1740


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff settings, all in seconds."""

    base_seconds: float = 5.0
    cap_seconds: float = 600.0
    min_seconds: float = 1.0
    auth_retry_seconds: float = 300.0
    max_age_seconds: float = 24 * 3600.0

    def __post_init__(self) -> None:
        if max(self.cap_seconds, self.auth_retry_seconds) >= VISIBILITY_TIMEOUT_SECONDS:
            raise ValueError("retry countdown must stay below the visibility timeout")


def backoff_seconds(attempt: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff for retry number `attempt` (0-based), in seconds.

    The floor of `min_seconds` keeps a failing task from retrying at full speed.
    """
    ceiling = min(policy.cap_seconds, policy.base_seconds * (2 ** min(attempt, 32)))
    draw = (rng or random).uniform(0, ceiling)
    return max(policy.min_seconds, draw)


def retry_delay(error: Exception, attempt: int, policy: RetryPolicy,
                rng: random.Random | None = None) -> float:
    """Seconds to wait before the next try after `error`."""
    if isinstance(error, AuthenticationError):
        return policy.auth_retry_seconds
    delay = backoff_seconds(attempt, policy, rng)
    if isinstance(error, TransientDeliveryError) and error.retry_after:
        delay = max(delay, error.retry_after)
    return min(delay, policy.cap_seconds)


def is_expired(age_seconds: float, policy: RetryPolicy) -> bool:
    """Tell whether a drop claimed `age_seconds` ago has run out of retries."""
    return age_seconds >= policy.max_age_seconds
