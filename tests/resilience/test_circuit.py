"""Circuit breaker transitions: consecutive failures, failure ratio, cool-down, half-open probe."""

from __future__ import annotations

import pytest

from app.errors import UpstreamUnavailableError
from app.resilience.circuit import CircuitBreaker, CircuitSettings, CircuitState


class ManualClock:
    """A clock the test moves by hand (the breaker takes any monotonic time source)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_opens_after_consecutive_failures_and_refuses_calls(clock):
    breaker = CircuitBreaker("n1", CircuitSettings(consecutive_failures=3, cooldown_s=30), clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(UpstreamUnavailableError, match="circuit for node n1 is open"):
        breaker.before_call()


def test_success_resets_the_consecutive_count(clock):
    breaker = CircuitBreaker(
        "n1", CircuitSettings(consecutive_failures=3, min_calls_for_ratio=100), clock=clock
    )
    for _ in range(10):
        breaker.record_failure()
        breaker.record_failure()
        breaker.record_success()
    assert breaker.state is CircuitState.CLOSED


def test_opens_on_failure_ratio_over_the_window(clock):
    settings = CircuitSettings(consecutive_failures=100, failure_ratio=0.5, window=10, min_calls_for_ratio=10)
    breaker = CircuitBreaker("n1", settings, clock=clock)
    for _ in range(5):
        breaker.record_success()
    for _ in range(4):
        breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED  # 4 failures in 9 calls: too few calls for the ratio
    breaker.record_failure()  # 5 of 10 = 0.5 reaches the ratio
    assert breaker.state is CircuitState.OPEN


def test_half_open_after_cooldown_single_probe_then_close(clock):
    breaker = CircuitBreaker("n1", CircuitSettings(consecutive_failures=1, cooldown_s=30), clock=clock)
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    clock.now += 29
    assert breaker.state is CircuitState.OPEN
    clock.now += 1
    assert breaker.state is CircuitState.HALF_OPEN
    breaker.before_call()  # the probe
    with pytest.raises(UpstreamUnavailableError, match="probe is in flight"):
        breaker.before_call()
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.transitions == [
        (CircuitState.CLOSED, CircuitState.OPEN),
        (CircuitState.OPEN, CircuitState.HALF_OPEN),
        (CircuitState.HALF_OPEN, CircuitState.CLOSED),
    ]


def test_failed_probe_reopens_for_another_cooldown(clock):
    breaker = CircuitBreaker("n1", CircuitSettings(consecutive_failures=1, cooldown_s=10), clock=clock)
    breaker.record_failure()
    clock.now += 10
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    clock.now += 9
    assert breaker.state is CircuitState.OPEN
