"""Per-API-key rate limiting with a moving window (the `limits` library), answered as 429 + Retry-After."""

from __future__ import annotations

import time

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from app.errors import RateLimitedError


class KeyRateLimiter:
    """`per_second` requests per key per second; state is per process (each replica limits on its own)."""

    def __init__(self, per_second: int) -> None:
        self.item = RateLimitItemPerSecond(per_second)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

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
