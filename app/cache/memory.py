"""In-process TTL cache: the only store without Redis, and the fallback while Redis is down.

cachetools' TLRUCache is used because it is well kept and supports a TTL per item (through its `ttu`
function), which the TTL classes need; it also bounds memory by total value size. It is not
thread-safe, and needs no lock here: it is only touched from the event loop, and no method awaits
between reading and writing it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Final

from cachetools import TLRUCache

from app.cache.keys import CacheKey

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
# Roughly what a key, its tuple and the heap entry cost beyond the value's own bytes.
_ITEM_OVERHEAD: Final = 200

_Entry = tuple[bytes, float]  # (value, ttl in seconds)


def _expires_at(_key: str, entry: _Entry, now: float) -> float:
    return now + entry[1]


def _size_of(entry: _Entry) -> int:
    return len(entry[0]) + _ITEM_OVERHEAD


class MemoryBackend:
    """Bounded in-process store with per-item TTL; `clock` is injectable so tests need not sleep."""

    name = "memory"

    def __init__(
        self, max_bytes: int = DEFAULT_MAX_BYTES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._items: TLRUCache[str, _Entry] = TLRUCache(
            maxsize=max_bytes, ttu=_expires_at, timer=clock, getsizeof=_size_of
        )

    def __len__(self) -> int:
        """Number of live items."""
        return sum(1 for _ in self._items)

    async def get(self, key: str) -> bytes | None:
        """The stored bytes, or None when absent or expired."""
        entry = self._items.get(key)
        return None if entry is None else entry[0]

    async def set(self, key: CacheKey, value: bytes, ttl_s: float) -> None:
        """Store `value` for `ttl_s` seconds; a value larger than the whole cache is not kept."""
        try:
            self._items[key.key] = (value, float(ttl_s))
        except ValueError:  # cachetools refuses an item bigger than maxsize: skip it, it is only a cache
            self._items.pop(key.key, None)

    async def delete_scope(self, scope: str) -> None:
        """Delete every key of one node scope."""
        await self.delete_prefix(f"{scope}:")

    async def delete_prefix(self, prefix: str) -> None:
        """Delete every key starting with `prefix`; O(items), which the size bound keeps small."""
        await self.delete_keys([key for key in self._items if key.startswith(prefix)])

    async def delete_keys(self, keys: Iterable[str]) -> None:
        """Delete the given keys; absent ones are ignored."""
        for key in list(keys):
            self._items.pop(key, None)

    async def ping(self) -> None:
        """Always answers."""

    def clear(self) -> None:
        """Drop everything (on hand-back to Redis)."""
        self._items.clear()

    async def close(self) -> None:
        """Drop everything."""
        self.clear()
