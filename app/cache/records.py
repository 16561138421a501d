"""In-process memo of decoded records and ready response bytes, dropped by the cache's invalidations.

A hot authenticated read must not pay a storage or Redis round trip for data that did not change, so
principals, node records, channel pages and scores are kept here, in this process, under the tenant and
node they belong to. `Cache.invalidate_node` and `Cache.invalidate_tenant` drop them at once in this
process; other replicas learn of a write through a generation counter in Redis (see app/cache/generations.py).

A fill that read its value before an invalidation must not store it after: every drop bumps `epoch`, and
`put` refuses a value whose load began under an older epoch. Memory is bounded by the total size of values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Final

from cachetools import LRUCache

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
_ENTRY_OVERHEAD: Final = 300  # key tuple, entry object and LRU bookkeeping, roughly


@dataclass(frozen=True, slots=True)
class RecordEntry:
    """One remembered value, the tenant and node it belongs to, and when it stops being served."""

    tenant_id: str
    node_id: str | None
    value: Any
    expires_at: float
    size: int


def _size_of(entry: RecordEntry) -> int:
    return entry.size + _ENTRY_OVERHEAD


class LocalRecords:
    """Values under hashable keys, each owned by a tenant (and a node, or tenant-wide with None)."""

    def __init__(
        self, max_bytes: int = DEFAULT_MAX_BYTES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: LRUCache[Hashable, RecordEntry] = LRUCache(maxsize=max_bytes, getsizeof=_size_of)
        self._clock = clock
        self.epoch = 0

    def __len__(self) -> int:
        """Number of remembered values (expired ones included until read or dropped)."""
        return len(self._entries)

    def get(self, key: Hashable, *, expired_ok: bool = False) -> RecordEntry | None:
        """The entry under `key` while it has not expired (or even then, when `expired_ok`: a fallback).

        Expired entries stay until evicted or dropped, so an invalidation removes a fallback too.
        """
        entry = self._entries.get(key)
        if entry is None or (not expired_ok and entry.expires_at <= self._clock()):
            return None
        return entry

    def fresh(self, entry: RecordEntry) -> bool:
        """Whether `entry` is younger than its maximum age."""
        return entry.expires_at > self._clock()

    def put(
        self,
        key: Hashable,
        value: Any,
        *,
        tenant_id: str,
        node_id: str | None,
        max_age_s: float,
        epoch: int,
        size: int = 0,
    ) -> None:
        """Remember `value` for `max_age_s`, unless something was invalidated since `epoch` was read."""
        if epoch != self.epoch:  # the value may predate that invalidation
            return
        entry = RecordEntry(tenant_id, node_id, value, self._clock() + max_age_s, size)
        try:
            self._entries[key] = entry
        except ValueError:  # larger than the whole memo: not kept, it is only a shortcut
            self._entries.pop(key, None)

    def forget(self, key: Hashable) -> None:
        """Drop one key (and refuse fills that began before)."""
        self.epoch += 1
        self._entries.pop(key, None)

    def drop_node(self, tenant_id: str, node_id: str | None) -> None:
        """Drop the entries of one node (None: the tenant-wide entries, such as its keys)."""
        self._drop(lambda entry: entry.tenant_id == tenant_id and entry.node_id == node_id)

    def drop_tenant(self, tenant_id: str) -> None:
        """Drop every entry of a tenant, node entries and tenant-wide entries alike."""
        self._drop(lambda entry: entry.tenant_id == tenant_id)

    def clear(self) -> None:
        """Drop everything."""
        self.epoch += 1
        self._entries.clear()

    def _drop(self, matches: Callable[[RecordEntry], bool]) -> None:
        # O(entries): invalidations are rare next to reads, and the size bound keeps the memo small.
        self.epoch += 1
        for key in [key for key, entry in self._entries.items() if matches(entry)]:
            self._entries.pop(key, None)
