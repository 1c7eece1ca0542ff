"""The retry policy, in one place: backoff with full jitter, a cap, Retry-After and a max age.

Every countdown stays below the broker's visibility timeout minus the task's hard time
limit (see delivery.timing). Redis re-delivers an unacked message once that timeout
passes, a countdown retry held by a worker included, and the retry would then run twice.
"""

import random
from dataclasses import dataclass

from delivery.errors import AuthenticationError, TransientDeliveryError
from delivery.timing import TIMING, Timing

# Kept as names of their own because the Celery app and other modules import them.
VISIBILITY_TIMEOUT_SECONDS = TIMING.visibility_timeout_seconds
TASK_TIME_LIMIT_SECONDS = TIMING.task_time_limit_seconds
TASK_SOFT_TIME_LIMIT_SECONDS = TIMING.task_soft_time_limit_seconds

# A 401 retry is spread over ±this share of auth_retry_seconds, so drops do not all
# come back in the same second after the credentials are fixed.
AUTH_JITTER_SHARE = 0.2


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff settings and the give-up age, all in seconds.

    `max_countdown_seconds` bounds every countdown this module returns, whatever the cap,
    so a policy built with production-sized values stays safe under the FAST profile.
    """

    base_seconds: float = TIMING.backoff_base_seconds
    cap_seconds: float = TIMING.backoff_cap_seconds
    min_seconds: float = TIMING.backoff_min_seconds
    auth_retry_seconds: float = TIMING.auth_retry_seconds
    max_age_seconds: float = 24 * 3600.0
    max_countdown_seconds: float = TIMING.max_countdown_seconds

    def __post_init__(self) -> None:
        if not 0 < self.min_seconds <= min(self.cap_seconds, self.max_countdown_seconds):
            raise ValueError("the backoff floor must be positive and below the cap and the "
                             "longest countdown")

    @classmethod
    def from_timing(cls, timing: Timing, max_age_seconds: float) -> "RetryPolicy":
        """Build the policy of a timing profile with the give-up age from the settings."""
        return cls(base_seconds=timing.backoff_base_seconds,
                   cap_seconds=timing.backoff_cap_seconds,
                   min_seconds=timing.backoff_min_seconds,
                   auth_retry_seconds=timing.auth_retry_seconds,
                   max_age_seconds=max_age_seconds,
                   max_countdown_seconds=timing.max_countdown_seconds)


def backoff_seconds(attempt: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff for retry number `attempt` (0-based), in seconds.

    The draw is uniform in [0, min(cap, max countdown, base * 2**attempt)]. The floor of
    `min_seconds` keeps a failing task from retrying at full speed.
    """
    ceiling = min(policy.cap_seconds, policy.max_countdown_seconds,
                  policy.base_seconds * (2 ** min(max(attempt, 0), 32)))
    draw = (rng or random).uniform(0, ceiling)
    return max(policy.min_seconds, draw)


def retry_delay(error: Exception, attempt: int, policy: RetryPolicy,
                rng: random.Random | None = None) -> float:
    """Return the seconds to wait before the next try after `error`.

    A 401 waits `auth_retry_seconds` with a little jitter. Other errors take the backoff,
    or the server's Retry-After when that is longer; Retry-After may go past the backoff
    cap but never past `max_countdown_seconds`.
    """
    if isinstance(error, AuthenticationError):
        spread = (rng or random).uniform(-AUTH_JITTER_SHARE, AUTH_JITTER_SHARE)
        return min(policy.auth_retry_seconds * (1 + spread), policy.max_countdown_seconds)

    delay = backoff_seconds(attempt, policy, rng)
    retry_after = getattr(error, "retry_after", None) if isinstance(
        error, TransientDeliveryError) else None
    if retry_after:
        return min(max(delay, retry_after), policy.max_countdown_seconds)
    return min(delay, policy.cap_seconds)


def is_expired(age_seconds: float, policy: RetryPolicy) -> bool:
    """Tell whether a drop claimed `age_seconds` ago has run out of retries."""
    return age_seconds >= policy.max_age_seconds
