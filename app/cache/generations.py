"""Cross-replica invalidation of the in-process memo through generation counters in Redis.

Every `invalidate_node` or `invalidate_tenant` increments the tenant's counter (`mcp-gen:{tenant}`) after
deleting the Redis keys; a hand-back after an outage increments the global one (`mcp-gen`), since the
invalidations this replica missed may have been any. Before serving a remembered value of a tenant, a
replica reads both counters, at most once per `check_interval_s` per tenant (one MGET), and drops the
tenant's memo when they moved. Bound: a write through another replica is seen by every request that
starts more than `check_interval_s` after that replica's invalidation returned (while Redis answers;
during an outage the memo is not served at all and the hand-back's global bump drops it everywhere).
The counters live outside the `mcp:` namespace, so no tenant flush or namespace erasure resets them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from app.cache.keys import generation_key
from app.cache.records import LocalRecords
from app.cache.redis_backend import RedisBackend

CHECK_INTERVAL_S: Final = 1.0

_Seen = tuple[bytes | None, ...]


class GenerationWatch:
    """What this replica last read of each tenant's counters, and when."""

    def __init__(
        self,
        records: LocalRecords,
        check_interval_s: float = CHECK_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._records = records
        self._check_interval_s = check_interval_s
        self._clock = clock
        self._seen: dict[str, tuple[_Seen, float]] = {}

    async def confirm(self, redis: RedisBackend, tenant_id: str) -> None:
        """Make sure the tenant's memo reflects every invalidation older than the check interval.

        Raises what Redis raises; the caller then serves nothing from the memo.
        """
        now = self._clock()
        seen = self._seen.get(tenant_id)
        if seen is not None and now - seen[1] < self._check_interval_s:
            return
        counters = await redis.read_counters([generation_key(None), generation_key(tenant_id)])
        if seen is None or seen[0] != counters:
            # A first look drops too: a fill that began before it must not be stored after it.
            self._records.drop_tenant(tenant_id)
        # The time the read was sent: an invalidation after it is caught by the next check.
        self._seen[tenant_id] = (counters, now)

    def forget(self) -> None:
        """Forget every reading (Redis was out: the next use of each tenant reads its counters anew)."""
        self._seen.clear()


async def bump(redis: RedisBackend, tenant_id: str | None) -> None:
    """Tell the other replicas that a tenant's data (None: anything) changed."""
    await redis.increment(generation_key(tenant_id))
