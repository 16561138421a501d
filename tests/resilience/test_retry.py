"""Retries: transient failures only, exponential backoff, Retry-After honoured and capped."""

from __future__ import annotations

import time

import pytest

from app.errors import UpstreamAuthError, UpstreamTemporaryError
from app.resilience.retry import RetrySettings, with_retries

FAST = RetrySettings(attempts=4, initial_s=0.01, max_s=0.05, jitter_s=0.0)


class Flaky:
    """Fails with the given errors, then answers."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def test_transient_failures_are_retried_until_success():
    call = Flaky(UpstreamTemporaryError("t1"), UpstreamTemporaryError("t2"))
    assert await with_retries(call, FAST) == "ok"
    assert call.calls == 3


async def test_gives_up_after_the_attempt_budget():
    call = Flaky(*(UpstreamTemporaryError(f"t{i}") for i in range(10)))
    with pytest.raises(UpstreamTemporaryError, match="t3"):
        await with_retries(call, FAST)
    assert call.calls == 4


async def test_client_errors_are_never_retried():
    call = Flaky(UpstreamAuthError("bad macaroon"))
    with pytest.raises(UpstreamAuthError):
        await with_retries(call, FAST)
    assert call.calls == 1


async def test_retry_after_is_honoured_and_capped():
    settings = RetrySettings(attempts=2, initial_s=0.0, max_s=0.01, jitter_s=0.0, max_retry_after_s=0.3)
    call = Flaky(UpstreamTemporaryError("429", status=429, retry_after_s=0.2))
    started = time.perf_counter()
    await with_retries(call, settings)
    assert 0.19 <= time.perf_counter() - started < 0.5
    capped = Flaky(UpstreamTemporaryError("429", status=429, retry_after_s=100))
    started = time.perf_counter()
    await with_retries(capped, settings)
    assert time.perf_counter() - started < 0.6  # capped at 0.3 s, not 100 s


async def test_backoff_grows_exponentially():
    settings = RetrySettings(attempts=4, initial_s=0.05, max_s=1.0, jitter_s=0.0)
    call = Flaky(*(UpstreamTemporaryError("t") for _ in range(3)))
    started = time.perf_counter()
    await with_retries(call, settings)
    # waits 0.05 + 0.1 + 0.2 = 0.35 s
    assert 0.33 <= time.perf_counter() - started < 0.8
