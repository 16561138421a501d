"""The small interface both cache stores implement (Redis and in-process)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from app.cache.keys import CacheKey


class CacheBackend(Protocol):
    """A byte store with per-item TTL and deletion by node scope, by prefix or by key."""

    name: str

    async def get(self, key: str) -> bytes | None:
        """The stored bytes, or None when absent or expired."""
        ...

    async def set(self, key: CacheKey, value: bytes, ttl_s: int) -> None:
        """Store `value` for `ttl_s` seconds."""
        ...

    async def delete_scope(self, scope: str) -> None:
        """Delete every key written under one node scope."""
        ...

    async def delete_prefix(self, prefix: str) -> None:
        """Delete every key starting with `prefix` (a tenant or the whole namespace)."""
        ...

    async def delete_keys(self, keys: Iterable[str]) -> None:
        """Delete the given keys; absent ones are ignored."""
        ...

    async def ping(self) -> None:
        """Raise unless the store answers."""
        ...

    async def close(self) -> None:
        """Release connections or memory."""
        ...
