"""Redis store on redis.asyncio: orjson bytes under escaped keys, plus a key index per node.

Every write also adds the key to its node's index set (in one MULTI/EXEC, so a key is never stored
without being indexed), which makes `delete_scope` O(keys of that node) instead of a SCAN over the
whole keyspace. The index expires after the longest TTL class and is refreshed by every write, so it
always outlives the keys it lists; stale members of already-expired keys only cost a no-op delete.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.cache.keys import CacheKey, index_key
from app.cache.ttl import MAX_TTL_S

DEFAULT_TIMEOUT_S: Final = 0.5
_BATCH: Final = 500


class RedisBackend:
    """Cache store on one Redis; short timeouts so an outage is noticed within a second."""

    name = "redis"

    def __init__(self, url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        # One immediate retry: after a Redis restart the first use of a pooled connection fails
        # and redis-py reconnects on the retry; more retries would only delay noticing an outage.
        self._client: Redis = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1),
        )

    async def get(self, key: str) -> bytes | None:
        """The stored bytes, or None when absent or expired."""
        value = await self._client.get(key)
        # The client is built without decode_responses, so Redis answers bytes; str only in theory.
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: CacheKey, value: bytes, ttl_s: int) -> None:
        """Store `value` with `EX ttl_s` and index it under its node scope."""
        index = index_key(key.scope)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.set(key.key, value, ex=ttl_s)
            pipe.sadd(index, key.key)
            pipe.expire(index, MAX_TTL_S)
            await pipe.execute()

    async def delete_scope(self, scope: str) -> None:
        """Delete every key indexed under one node scope, then the index."""
        index = index_key(scope)
        # Read and drop the index atomically: a key written meanwhile lands in a fresh index.
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.smembers(index)
            pipe.delete(index)
            members, _ = await pipe.execute()
        await self.delete_keys(members)

    async def delete_prefix(self, prefix: str) -> None:
        """Delete every key starting with `prefix` (SCAN, so O(keyspace); used for rare tenant flushes)."""
        # The prefix is built from escaped components, so it holds no glob character to escape.
        batch: list[bytes] = []
        async for key in self._client.scan_iter(match=f"{prefix}*", count=_BATCH):
            batch.append(key)
            if len(batch) >= _BATCH:
                await self._client.unlink(*batch)
                batch.clear()
        if batch:
            await self._client.unlink(*batch)

    async def delete_keys(self, keys: Iterable[str | bytes]) -> None:
        """Delete the given keys in batches; absent ones are ignored."""
        pending = list(keys)
        for start in range(0, len(pending), _BATCH):
            await self._client.unlink(*pending[start : start + _BATCH])

    async def increment(self, key: str) -> None:
        """Add one to a counter (created at 1); used for the generation counters."""
        await self._client.incr(key)

    async def read_counters(self, keys: list[str]) -> tuple[bytes | None, ...]:
        """The raw values of several counters in one round trip (None where absent)."""
        values = await self._client.mget(keys)
        return tuple(value.encode() if isinstance(value, str) else value for value in values)

    async def ping(self) -> None:
        """Raise unless Redis answers PING."""
        await self._client.ping()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
