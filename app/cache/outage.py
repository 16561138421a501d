"""What Redis missed while the cache was degraded, so the hand-back can erase what became stale.

While Redis is down, writes and invalidations reach only the in-process cache. Redis may still hold
values from before the outage for keys that were since overwritten or invalidated; serving them after
the hand-back would be serving stale data. So the cache remembers every key written and every node or
tenant invalidated during the outage and deletes them in Redis before switching back. Remembering is
bounded: past `max_entries` it falls back to deleting the whole `mcp:` namespace, which is always safe
(a cold cache) and cheaper to track than an unbounded list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from app.cache.backend import CacheBackend
from app.cache.keys import ROOT

DEFAULT_MAX_ENTRIES: Final = 10_000


@dataclass(slots=True)
class PendingErasure:
    """Keys, node scopes and tenant prefixes to delete in Redis; `everything` overrides them all."""

    keys: set[str] = field(default_factory=set)
    scopes: set[str] = field(default_factory=set)
    tenants: set[str] = field(default_factory=set)
    everything: bool = False

    def __len__(self) -> int:
        """Number of remembered entries (1 when the whole namespace is to be erased)."""
        return 1 if self.everything else len(self.keys) + len(self.scopes) + len(self.tenants)

    async def replay(self, redis: CacheBackend) -> None:
        """Delete in Redis everything remembered; raises if Redis fails midway (retried as a whole)."""
        if self.everything:
            await redis.delete_prefix(f"{ROOT}:")
            return
        for tenant in sorted(self.tenants):
            await redis.delete_prefix(f"{tenant}:")
        for scope in sorted(self.scopes):
            await redis.delete_scope(scope)
        await redis.delete_keys(sorted(self.keys))


class OutageLog:
    """Accumulates erasures while degraded; `take` hands them over, `restore` puts back a failed replay."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._max_entries = max_entries
        self._pending = PendingErasure()

    def __len__(self) -> int:
        """Number of remembered entries."""
        return len(self._pending)

    def key_written(self, key: str) -> None:
        """A key was written to memory only: Redis may hold an older value for it."""
        self._pending.keys.add(key)
        self._check_bound()

    def scope_invalidated(self, scope: str) -> None:
        """A node scope was invalidated in memory only."""
        self._pending.scopes.add(scope)
        self._check_bound()

    def tenant_invalidated(self, tenant_scope: str) -> None:
        """A whole tenant was invalidated in memory only."""
        self._pending.tenants.add(tenant_scope)
        self._check_bound()

    def take(self) -> PendingErasure:
        """Hand over everything remembered and start afresh."""
        pending, self._pending = self._pending, PendingErasure()
        return pending

    def restore(self, pending: PendingErasure) -> None:
        """Merge back erasures whose replay failed, so none is lost."""
        self._pending.keys |= pending.keys
        self._pending.scopes |= pending.scopes
        self._pending.tenants |= pending.tenants
        self._pending.everything |= pending.everything
        self._check_bound()

    def _check_bound(self) -> None:
        if not self._pending.everything and len(self._pending) > self._max_entries:
            self._pending = PendingErasure(everything=True)
