"""Rate limits (the `limits` library), per API key and per address for failed logins."""

from __future__ import annotations

import time

from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from prometheus_client import Counter

from app.errors import RateLimitedError


class KeyRateLimiter:
    """`per_second` requests per key per second; state is per process (each replica limits on its own).

    A sliding window counter (this second's count plus the last second's, weighted by the overlap) costs
    the same at any limit; the exact moving window keeps one timestamp per request, and at a lifted limit
    of thousands a second its bookkeeping was a visible part of every cached read.
    """

    def __init__(self, per_second: int) -> None:
        self.item = RateLimitItemPerSecond(per_second)
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def check(self, key_id: str) -> None:
        """Count one request; RateLimitedError with the seconds until a slot frees up when over the limit."""
        if await self._limiter.hit(self.item, "api-key", key_id):
            return
        stats = await self._limiter.get_window_stats(self.item, "api-key", key_id)
        retry_after = max(0.0, stats.reset_time - time.time())
        raise RateLimitedError(
            f"more than {self.item.amount} requests per second for this API key",
            retry_after_s=retry_after,
            details={"limit_per_second": self.item.amount},
        )


AUTH_FAILURES = Counter(
    "mcp_auth_failures_total",
    "Failed authentications, and those refused unchecked for too many failures",
    ["outcome"],
)


WINDOW_S = 60.0
MAX_TRACKED = 10_000


class FailedAuthLimiter:
    """`per_minute` failed authentications per client address; beyond, the address gets 429 unchecked.

    Keys are 256 random bits, so this is not what keeps them safe: it keeps a guesser from costing a
    storage lookup per attempt and makes the attempts visible (mcp_auth_failures_total).
    """

    def __init__(self, per_minute: int) -> None:
        self.item = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._last_failure: dict[str, float] = {}  # the fast path: most callers never failed

    async def check(self, address: str) -> None:
        """RateLimitedError while the address is over its failure budget (nothing is counted)."""
        last = self._last_failure.get(address)
        if last is None or time.monotonic() - last > WINDOW_S:
            return
        if await self._limiter.test(self.item, "auth-failures", address):
            return
        AUTH_FAILURES.labels(outcome="rate_limited").inc()
        stats = await self._limiter.get_window_stats(self.item, "auth-failures", address)
        raise RateLimitedError(
            f"too many failed authentications from this address (more than {self.item.amount} a minute)",
            retry_after_s=max(1.0, stats.reset_time - time.time()),
            details={"failures_per_minute": self.item.amount},
        )

    async def failed(self, address: str) -> None:
        """Count one failed authentication of the address."""
        AUTH_FAILURES.labels(outcome="refused").inc()
        now = time.monotonic()
        if len(self._last_failure) > MAX_TRACKED:  # forget addresses whose window has passed
            self._last_failure = {a: t for a, t in self._last_failure.items() if now - t <= WINDOW_S}
        self._last_failure[address] = now
        await self._limiter.hit(self.item, "auth-failures", address)
