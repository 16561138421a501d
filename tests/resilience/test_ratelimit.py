"""Per-key request limits and per-address failed-authentication limits."""

from __future__ import annotations

import pytest

from app.errors import RateLimitedError
from app.resilience.ratelimit import FailedAuthLimiter, KeyRateLimiter


async def test_a_key_gets_its_limit_a_second_and_then_429_with_a_retry_after():
    limiter = KeyRateLimiter(5)
    for _ in range(5):
        await limiter.check("key-a")
    with pytest.raises(RateLimitedError) as caught:
        await limiter.check("key-a")
    assert 0 < caught.value.retry_after_s <= 1.0
    assert caught.value.details == {"limit_per_second": 5}
    await limiter.check("key-b")  # another key has its own budget


async def test_failed_authentications_of_an_address_are_counted_until_it_is_refused_unchecked():
    limiter = FailedAuthLimiter(3)
    await limiter.check("10.0.0.1")  # never failed: the fast path
    for _ in range(3):
        await limiter.check("10.0.0.1")
        await limiter.failed("10.0.0.1")
    with pytest.raises(RateLimitedError) as caught:
        await limiter.check("10.0.0.1")
    assert caught.value.retry_after_s >= 1.0 and caught.value.details == {"failures_per_minute": 3}
    await limiter.check("10.0.0.2")  # another address is not affected
