"""Broker and task timings that crash safety depends on, in one profile per process.

Redis re-delivers a message that stays unacked longer than the visibility timeout,
including a countdown retry that a worker keeps in memory. With late acks a message
stays unacked from the moment a worker fetches it until the task ends, so every retry
countdown plus the hard time limit must stay below the visibility timeout. A copy that
is re-delivered anyway finds the drop lock taken or the drop gone from work/, so it
sends nothing.

Production values apply unless the environment variable COURIER_TEST_TIMING is `fast`.
That profile shrinks every interval so the fault tests finish in minutes; it exists for
tests only and must never be set on a real installation. Every process of one
installation (watcher, workers, beat) must see the same profile.
"""

import os
from dataclasses import dataclass

TEST_TIMING_ENV = "COURIER_TEST_TIMING"
FAST_PROFILE = "fast"


@dataclass(frozen=True)
class Timing:
    """Intervals and limits of the broker, the delivery task and the recovery jobs, in seconds."""

    # Redis transport: unacked messages older than this go back to their queue.
    visibility_timeout_seconds: int
    # Hard and soft time limits of one delivery task.
    task_time_limit_seconds: int
    task_soft_time_limit_seconds: int
    # How often a worker sweeps the unacked messages for ones past the visibility
    # timeout: kombu's `unacked_restore_interval` and `unacked_restore_throttle`.
    restore_interval_seconds: int
    restore_throttle: int
    # A recipient's `sending` lease outlives the hard time limit by this margin, so only
    # the lease of a task that died can expire.
    lease_margin_seconds: int
    # The drop lock outlives the hard time limit by this margin.
    drop_lock_margin_seconds: int
    # A queued drop counts as orphaned this long after its message could have come back.
    inflight_margin_seconds: int
    # How often beat looks for orphaned drops and expired leases.
    recovery_scan_seconds: int
    # Maximum wait for one rate-limit permit inside a task; past it the task retries.
    permit_wait_seconds: float
    # Maximum wait for another worker's ledger rebuild before the task retries.
    rebuild_wait_seconds: float
    # How long a task waits before it looks again at a drop another task has locked.
    locked_retry_seconds: float
    # Backoff: first ceiling, cap and floor; the fixed delay after a 401.
    backoff_base_seconds: float
    backoff_cap_seconds: float
    backoff_min_seconds: float
    auth_retry_seconds: float
    # Safety margin between the longest countdown plus the hard time limit and the
    # visibility timeout.
    countdown_margin_seconds: int

    def __post_init__(self) -> None:
        if self.task_soft_time_limit_seconds >= self.task_time_limit_seconds:
            raise ValueError("the soft time limit must be below the hard time limit")
        if self.max_countdown_seconds < max(self.backoff_cap_seconds, self.auth_retry_seconds):
            raise ValueError("backoff cap plus the hard time limit must stay below the "
                             "visibility timeout")

    @property
    def max_countdown_seconds(self) -> float:
        """Maximum countdown of a retry, Retry-After included."""
        return (self.visibility_timeout_seconds - self.task_time_limit_seconds
                - self.countdown_margin_seconds)

    @property
    def lease_seconds(self) -> int:
        """Lifetime of a recipient's `sending` lease."""
        return self.task_time_limit_seconds + self.lease_margin_seconds

    @property
    def drop_lock_seconds(self) -> int:
        """Lifetime of the lock that keeps two copies of one drop's task apart."""
        return self.task_time_limit_seconds + self.drop_lock_margin_seconds


PRODUCTION = Timing(
    visibility_timeout_seconds=3600,
    task_time_limit_seconds=1800,
    task_soft_time_limit_seconds=1740,
    restore_interval_seconds=10,
    restore_throttle=10,
    lease_margin_seconds=300,
    drop_lock_margin_seconds=60,
    inflight_margin_seconds=600,
    recovery_scan_seconds=300,
    permit_wait_seconds=30.0,
    rebuild_wait_seconds=120.0,
    locked_retry_seconds=60.0,
    backoff_base_seconds=5.0,
    backoff_cap_seconds=600.0,
    backoff_min_seconds=1.0,
    auth_retry_seconds=300.0,
    countdown_margin_seconds=60,
)

# Tests only: a visibility timeout of 30 s lets a test watch a killed worker's messages
# come back, and a 2 s backoff cap keeps retry scenarios within seconds.
FAST = Timing(
    visibility_timeout_seconds=30,
    task_time_limit_seconds=20,
    task_soft_time_limit_seconds=17,
    restore_interval_seconds=1,
    restore_throttle=1,
    lease_margin_seconds=3,
    drop_lock_margin_seconds=1,
    inflight_margin_seconds=5,
    recovery_scan_seconds=2,
    permit_wait_seconds=5.0,
    rebuild_wait_seconds=10.0,
    locked_retry_seconds=1.0,
    backoff_base_seconds=0.25,
    backoff_cap_seconds=2.0,
    backoff_min_seconds=0.1,
    auth_retry_seconds=1.5,
    countdown_margin_seconds=1,
)


def timing_from_environment(environ=os.environ) -> Timing:
    """Pick the FAST profile when COURIER_TEST_TIMING=fast, else PRODUCTION."""
    value = environ.get(TEST_TIMING_ENV, "").strip().lower()
    if value == FAST_PROFILE:
        return FAST
    if value:
        raise ValueError(f"Переменная {TEST_TIMING_ENV} допускает только значение "
                         f"«{FAST_PROFILE}» (для тестов), а задано «{value}»: уберите её.")
    return PRODUCTION


TIMING = timing_from_environment()
