"""Unit tests of the retry policy: backoff, cap, Retry-After, expiry and the broker's limits."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from delivery.errors import (
    AuthenticationError,
    PermanentDeliveryError,
    RateLimitedError,
    TransientDeliveryError,
)
from delivery.retry import AUTH_JITTER_SHARE, RetryPolicy, backoff_seconds, is_expired, retry_delay
from delivery.timing import FAST, PRODUCTION, Timing, timing_from_environment

POLICY = RetryPolicy.from_timing(PRODUCTION, max_age_seconds=24 * 3600)


class EdgeRandom(random.Random):
    """A random source whose uniform() always returns one end of the range."""

    def __init__(self, upper: bool):
        super().__init__(0)
        self.upper = upper

    def uniform(self, low, high):
        return high if self.upper else low


def test_backoff_ceiling_doubles_until_cap():
    highest = [backoff_seconds(attempt, POLICY, EdgeRandom(upper=True)) for attempt in range(10)]

    assert highest[:7] == [5, 10, 20, 40, 80, 160, 320]
    assert highest[7:] == [600, 600, 600]


def test_backoff_has_floor_against_full_speed_loop():
    lowest = [backoff_seconds(attempt, POLICY, EdgeRandom(upper=False)) for attempt in range(5)]

    assert lowest == [POLICY.min_seconds] * 5


def test_backoff_draws_spread_over_whole_range():
    rng = random.Random(7)
    draws = [backoff_seconds(4, POLICY, rng) for _ in range(2000)]

    assert min(draws) >= POLICY.min_seconds
    assert max(draws) <= 80
    assert min(draws) < 10
    assert max(draws) > 70


def test_backoff_huge_attempt_stays_at_cap():
    assert backoff_seconds(10_000, POLICY, EdgeRandom(upper=True)) == POLICY.cap_seconds


def test_retry_after_longer_than_backoff_wins():
    error = RateLimitedError("429", retry_after=900)

    delay = retry_delay(error, attempt=0, policy=POLICY, rng=EdgeRandom(upper=True))

    assert delay == 900


def test_retry_after_limited_by_visibility_timeout():
    error = TransientDeliveryError("503", retry_after=86400)

    delay = retry_delay(error, attempt=0, policy=POLICY)

    assert delay == POLICY.max_countdown_seconds
    assert delay + PRODUCTION.task_time_limit_seconds < PRODUCTION.visibility_timeout_seconds


def test_retry_after_shorter_than_backoff_keeps_backoff():
    error = RateLimitedError("429", retry_after=1)

    delay = retry_delay(error, attempt=6, policy=POLICY, rng=EdgeRandom(upper=True))

    assert delay == 320


def test_unauthorized_retries_slowly_with_jitter():
    error = AuthenticationError(status=401)
    delays = [retry_delay(error, attempt, POLICY, random.Random(attempt)) for attempt in range(50)]

    low = POLICY.auth_retry_seconds * (1 - AUTH_JITTER_SHARE)
    high = POLICY.auth_retry_seconds * (1 + AUTH_JITTER_SHARE)
    assert all(low <= delay <= high for delay in delays)
    assert len(set(delays)) > 1


def test_expiry_at_max_age():
    policy = RetryPolicy.from_timing(PRODUCTION, max_age_seconds=3600)

    assert not is_expired(3599.9, policy)
    assert is_expired(3600, policy)
    assert is_expired(7200, policy)


@pytest.mark.parametrize("timing", [PRODUCTION, FAST], ids=["production", "fast"])
def test_countdown_and_time_limit_fit_visibility_timeout(timing: Timing):
    policy = RetryPolicy.from_timing(timing, max_age_seconds=3600)
    longest_countdown = max(policy.cap_seconds, policy.max_countdown_seconds,
                            policy.auth_retry_seconds * (1 + AUTH_JITTER_SHARE))

    assert longest_countdown + timing.task_time_limit_seconds < timing.visibility_timeout_seconds
    assert timing.task_soft_time_limit_seconds < timing.task_time_limit_seconds


@pytest.mark.parametrize("timing", [PRODUCTION, FAST], ids=["production", "fast"])
def test_lease_outlives_drop_lock_and_time_limit(timing: Timing):
    assert timing.lease_seconds > timing.task_time_limit_seconds
    assert timing.drop_lock_seconds > timing.task_time_limit_seconds
    # When a lease has expired, the dead task's drop lock has expired too, so beat's
    # re-queued task can take the drop at once.
    assert timing.lease_seconds > timing.drop_lock_seconds


@given(attempt=st.integers(min_value=0, max_value=500),
       retry_after=st.one_of(st.none(), st.floats(min_value=0, max_value=10**7)),
       seed=st.integers(min_value=0, max_value=2**32))
def test_every_countdown_below_visibility_timeout(attempt, retry_after, seed):
    for timing in (PRODUCTION, FAST):
        policy = RetryPolicy.from_timing(timing, max_age_seconds=3600)
        for error in (TransientDeliveryError("x", retry_after=retry_after),
                      AuthenticationError()):
            delay = retry_delay(error, attempt, policy, random.Random(seed))

            assert delay >= policy.min_seconds
            assert delay + timing.task_time_limit_seconds < timing.visibility_timeout_seconds


def test_oversize_cap_still_bounded_by_max_countdown():
    policy = RetryPolicy(cap_seconds=10 * FAST.visibility_timeout_seconds,
                         auth_retry_seconds=10 * FAST.visibility_timeout_seconds,
                         max_countdown_seconds=FAST.max_countdown_seconds)

    for attempt in range(20):
        delay = backoff_seconds(attempt, policy, EdgeRandom(upper=True))
        assert delay <= FAST.max_countdown_seconds
    assert retry_delay(AuthenticationError(), 0, policy) <= FAST.max_countdown_seconds


def test_policy_rejects_floor_above_cap():
    with pytest.raises(ValueError):
        RetryPolicy(min_seconds=10, cap_seconds=5)


def test_timing_rejects_time_limit_eating_visibility_timeout():
    with pytest.raises(ValueError):
        Timing(**{**PRODUCTION.__dict__, "task_time_limit_seconds": 3500,
                  "task_soft_time_limit_seconds": 3400})


def test_test_timing_chosen_only_by_env_variable():
    assert timing_from_environment({}) is PRODUCTION
    assert timing_from_environment({"COURIER_TEST_TIMING": "fast"}) is FAST
    with pytest.raises(ValueError, match="COURIER_TEST_TIMING"):
        timing_from_environment({"COURIER_TEST_TIMING": "turbo"})


def test_error_tree_branches():
    assert issubclass(RateLimitedError, TransientDeliveryError)
    assert not issubclass(AuthenticationError, TransientDeliveryError)
    assert not issubclass(AuthenticationError, PermanentDeliveryError)


def test_celery_app_uses_timing_profile():
    from tasks.application import app
    from delivery.timing import TIMING

    options = app.conf.broker_transport_options

    assert options["visibility_timeout"] == TIMING.visibility_timeout_seconds
    assert app.conf.task_time_limit == TIMING.task_time_limit_seconds
    assert app.conf.task_soft_time_limit == TIMING.task_soft_time_limit_seconds
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


@pytest.mark.parametrize("status, branch", [
    (400, PermanentDeliveryError), (403, PermanentDeliveryError),
    (404, PermanentDeliveryError), (413, PermanentDeliveryError),
    (422, PermanentDeliveryError), (408, TransientDeliveryError),
    (429, TransientDeliveryError), (500, TransientDeliveryError),
    (502, TransientDeliveryError), (503, TransientDeliveryError),
    (504, TransientDeliveryError), (401, AuthenticationError),
])
def test_http_status_maps_to_error_branch(sandbox, status, branch):
    from delivery.client import ConnectClient
    from tests.conftest import DEMO, LINE_ID, SUBSCRIBERS

    client = ConnectClient(sandbox.url, DEMO.login, DEMO.password)
    sandbox.set_faults(status, count=1, retry_after=7)

    with pytest.raises(branch) as raised:
        client.send_message(LINE_ID, SUBSCRIBERS[0]["user_id"], "Проверка")

    assert raised.value.status == status
    if status == 429:
        assert raised.value.retry_after == 7


def test_connection_refused_is_transient():
    from delivery.client import ConnectClient
    from tests.processes import free_port

    client = ConnectClient(f"http://127.0.0.1:{free_port()}", "login", "password")

    with pytest.raises(TransientDeliveryError):
        client.send_message("l", "u", "Проверка")
