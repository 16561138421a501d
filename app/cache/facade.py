"""The cache the service uses: Redis when configured and reachable, the in-process cache otherwise.

Failover: any Redis error on an operation marks the cache degraded (`CacheMode.CACHE_DEGRADED`,
gauge `mcp_cache_degraded`), logs once (the exception type only: the URL may hold a password) and
serves that operation and the following ones from memory, so an outage costs at most one timeout.
A tracked background task pings Redis every `probe_interval_s`; it also notices an outage while
the service is idle. When Redis answers again, the hand-back first deletes in Redis every key written
and every node or tenant invalidated during the outage (see app/cache/outage.py), then clears the
memory cache and switches back. Without a Redis URL the memory cache is the store and nothing is degraded.

Beside the store, `records` remembers decoded records and ready response bytes in this process
(app/cache/records.py): `recall` serves them, `remember` keeps them, and both invalidations drop them here
at once and on the other replicas through generation counters (app/cache/generations.py). While Redis is
configured but out, nothing is served from `records`, since other replicas' writes could not be learnt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from types import TracebackType
from typing import Any, Final, Self, TypeVar, cast

import orjson
from pydantic import SecretStr
from redis.exceptions import RedisError

from app.cache.generations import CHECK_INTERVAL_S, GenerationWatch, bump
from app.cache.keys import CacheKey, node_scope, tenant_scope
from app.cache.loads import LoadsInFlight
from app.cache.memory import MemoryBackend
from app.cache.outage import DEFAULT_MAX_ENTRIES, OutageLog
from app.cache.records import LocalRecords
from app.cache.redis_backend import DEFAULT_TIMEOUT_S, RedisBackend
from app.cache.status import CacheMode, CacheStats
from app.cache.ttl import TtlClass
from app.errors import ConfigError
from app.observability.metrics import CACHE_BACKEND_ERRORS, CACHE_DEGRADED, CACHE_HITS, CACHE_MISSES
from app.settings import Settings

log = logging.getLogger(__name__)


# redis-py wraps most socket failures, but a few surface as OSError or the builtin TimeoutError.
_REDIS_ERRORS: Final = (RedisError, OSError, TimeoutError)
# Writes that keep arriving during a hand-back could keep it replaying; give up for this probe after this.
_MAX_REPLAY_ROUNDS: Final = 5
_T = TypeVar("_T")


class Cache:
    """One per application: JSON or bytes values under tenant/node keys with TTL classes."""

    def __init__(
        self,
        redis_url: SecretStr | str | None = None,
        *,
        probe_interval_s: float = 5.0,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory: MemoryBackend | None = None,
        max_pending_erasures: int = DEFAULT_MAX_ENTRIES,
        records: LocalRecords | None = None,
        generation_check_s: float = CHECK_INTERVAL_S,
        clock: Callable[[], float] | None = None,
    ) -> None:
        url = redis_url.get_secret_value() if isinstance(redis_url, SecretStr) else redis_url
        self._redis: RedisBackend | None = None
        if url:
            try:
                self._redis = RedisBackend(url, timeout_s)
            except ValueError:
                # `from None`: redis-py's message could quote the URL, and with it a password.
                raise ConfigError("MCP_REDIS_URL is not a valid redis:// or rediss:// URL") from None
        self._memory = memory if memory is not None else MemoryBackend()
        self._probe_interval_s = probe_interval_s
        self._outage = OutageLog(max_pending_erasures)
        self._degraded = False
        self._probe_task: asyncio.Task[None] | None = None
        # One hand-back at a time: a second one could see the log empty while the first still replays.
        self._hand_back_lock = asyncio.Lock()
        self.records = records if records is not None else LocalRecords()
        self._generations = GenerationWatch(self.records, generation_check_s, clock or time.monotonic)
        self._loads = LoadsInFlight()
        self._hits = {"redis": 0, "memory": 0}
        self._misses = {"redis": 0, "memory": 0}

    @classmethod
    def from_settings(cls, settings: Settings) -> Cache:
        """The cache described by MCP_REDIS_URL and MCP_CACHE_PROBE_INTERVAL_S."""
        return cls(settings.redis_url, probe_interval_s=settings.cache_probe_interval_s)

    async def start(self) -> None:
        """Check Redis once and start the probe task; needed for the hand-back after an outage."""
        if self._redis is None or self._probe_task is not None:
            return
        CACHE_DEGRADED.set(0)
        await self.probe()  # a Redis that is down at start-up means degraded from the start
        self._probe_task = asyncio.create_task(self._probe_loop(), name="cache-redis-probe")

    async def close(self) -> None:
        """Stop the probe task and release Redis connections and memory."""
        if self._probe_task is not None:
            self._probe_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe_task
            self._probe_task = None
        if self._redis is not None:
            CACHE_DEGRADED.set(0)  # a closed cache serves nobody; do not leave the alarm raised
            with contextlib.suppress(*_REDIS_ERRORS):
                await self._redis.close()
        await self._memory.close()
        self.records.clear()

    async def __aenter__(self) -> Self:
        """Start the cache."""
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the cache."""
        await self.close()

    @property
    def degraded(self) -> bool:
        """True while Redis is configured but unreachable."""
        return self._degraded

    @property
    def mode(self) -> CacheMode:
        """The store serving now, and why."""
        if self._redis is None:
            return CacheMode.MEMORY_ONLY
        return CacheMode.CACHE_DEGRADED if self._degraded else CacheMode.REDIS

    @property
    def backend_name(self) -> str:
        """Name of the store serving now: redis or memory."""
        redis = self._live_redis()
        return redis.name if redis is not None else self._memory.name

    def stats(self) -> CacheStats:
        """Mode, hit and miss counts per store, and erasures waiting for the hand-back."""
        return CacheStats(
            mode=self.mode,
            backend=self.backend_name,
            degraded=self._degraded,
            redis_configured=self._redis is not None,
            hits=dict(self._hits),
            misses=dict(self._misses),
            pending_erasures=len(self._outage),
        )

    async def get_bytes(self, key: CacheKey) -> bytes | None:
        """The cached bytes, or None on a miss; never raises for a Redis outage."""
        redis = self._live_redis()
        if redis is not None:
            try:
                value = await redis.get(key.key)
            except _REDIS_ERRORS as exc:
                self._enter_degraded(exc)
            else:
                self._count(redis.name, value is not None)
                return value
        value = await self._memory.get(key.key)
        self._count(self._memory.name, value is not None)
        return value

    async def set_bytes(self, key: CacheKey, value: bytes, ttl: TtlClass) -> None:
        """Store bytes for the TTL of `ttl`; never raises for a Redis outage."""
        stored = await self._write_redis(
            lambda redis: redis.set(key, value, ttl.seconds), lambda: self._outage.key_written(key.key)
        )
        if not stored:  # memory holds a value only while Redis cannot
            await self._memory.set(key, value, ttl.seconds)

    async def get_json(self, key: CacheKey) -> Any | None:
        """The cached JSON value, or None on a miss (so a cached JSON null reads as a miss)."""
        raw = await self.get_bytes(key)
        if raw is None:
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.warning("cache: value under %s is not JSON; treated as a miss", key.key)
            return None

    async def set_json(self, key: CacheKey, value: Any, ttl: TtlClass) -> None:
        """Store a JSON-serialisable value (orjson: dataclasses, datetimes, numpy allowed)."""
        await self.set_bytes(key, orjson.dumps(value), ttl)

    async def delete(self, key: CacheKey) -> None:
        """Invalidate one key."""
        await self._memory.delete_keys([key.key])
        await self._write_redis(
            lambda redis: redis.delete_keys([key.key]), lambda: self._outage.key_written(key.key)
        )

    async def invalidate_node(self, tenant_id: str, node_id: str | None) -> None:
        """Invalidate every key of one node (`None`: the tenant-wide keys, not the nodes' keys).

        Remembered records go at once in this process, and on other replicas within the generation check.
        """
        scope = node_scope(tenant_id, node_id)
        self.records.drop_node(tenant_id, node_id)
        await self._memory.delete_scope(scope)

        async def erase(redis: RedisBackend) -> None:
            await redis.delete_scope(scope)
            await bump(redis, tenant_id)

        await self._write_redis(erase, lambda: self._outage.scope_invalidated(scope))

    async def invalidate_tenant(self, tenant_id: str) -> None:
        """Invalidate every key and remembered record of a tenant, node and tenant-wide alike."""
        scope = tenant_scope(tenant_id)
        self.records.drop_tenant(tenant_id)
        await self._memory.delete_prefix(f"{scope}:")

        async def erase(redis: RedisBackend) -> None:
            await redis.delete_prefix(f"{scope}:")
            await bump(redis, tenant_id)

        await self._write_redis(erase, lambda: self._outage.tenant_invalidated(scope))

    async def recall(self, key: Hashable, *, expired_ok: bool = False) -> Any | None:
        """A value remembered in this process, unless an invalidation (here or on a replica) dropped it.

        `expired_ok` also returns a value past its age, for a fallback while storage is down.
        """
        entry = self.records.get(key, expired_ok=expired_ok)
        if entry is None or not await self._confirm(entry.tenant_id):
            return None
        entry = self.records.get(key, expired_ok=expired_ok)  # the confirmation may just have dropped it
        return None if entry is None else entry.value

    async def remembered(
        self,
        key: Hashable,
        load: Callable[[], Awaitable[_T]],
        *,
        tenant_id: str,
        node_id: str | None,
        max_age_s: float,
        size: Callable[[_T], int] = lambda _: 0,
        keep: Callable[[_T], bool] = lambda _: True,
    ) -> _T:
        """The remembered value of `key`, else `load()`'s, remembered when `keep` says so.

        A value past its age is still served while one request reloads it, so a slow reload does not stall
        every concurrent reader; a dropped (invalidated) value is never served. A reader that finds no value
        while another loads it waits for that load (one load per key at a time in this process).
        """
        while True:
            # Confirmed first, so the epoch below is read after any drop this confirmation makes.
            confirmed = await self._confirm(tenant_id)
            entry = self.records.get(key, expired_ok=True) if confirmed else None
            if entry is not None and (self.records.fresh(entry) or self._loads.busy(key)):
                return cast(_T, entry.value)
            loading = self._loads.joinable(key, self.records.epoch)
            if loading is None:
                break
            try:
                return cast(_T, await asyncio.shield(loading))
            except asyncio.CancelledError:
                if not loading.cancelled():
                    raise  # this reader was cancelled
                # The load was cancelled with its request: look again (another reader may have begun one).
        epoch = self.records.epoch

        async def load_and_remember() -> _T:
            value = await load()
            if keep(value):  # remembered before the key is free: a reader arriving now finds the value
                await self.remember(
                    key, value, tenant_id=tenant_id, node_id=node_id, max_age_s=max_age_s, epoch=epoch,
                    size=size(value),
                )  # fmt: skip
            return value

        return await self._loads.run(key, epoch, load_and_remember)

    async def fill_epoch(self, tenant_id: str | None = None) -> int:
        """Read before loading a value to `remember`: a load older than an invalidation is not kept.

        With the tenant known, its generations are confirmed first, so a first look does not void the fill.
        """
        if tenant_id is not None:
            await self._confirm(tenant_id)
        return self.records.epoch

    async def remember(
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
        """Keep `value` in this process for at most `max_age_s`, unless it was invalidated since `epoch`."""
        if await self._confirm(tenant_id):
            self.records.put(
                key, value, tenant_id=tenant_id, node_id=node_id, max_age_s=max_age_s, epoch=epoch, size=size
            )

    async def _confirm(self, tenant_id: str) -> bool:
        """True when the tenant's remembered records reflect other replicas' invalidations (within the bound)."""
        if self._redis is None:  # one process is the whole deployment: its own drops are all there is
            return True
        redis = self._live_redis()
        if redis is None:
            return False
        try:
            await self._generations.confirm(redis, tenant_id)
        except _REDIS_ERRORS as exc:
            self._enter_degraded(exc)
            return False
        return True

    async def probe(self) -> bool:
        """Ping Redis now and hand back if it answers; True when Redis serves afterwards."""
        if self._redis is None:
            return False
        try:
            await self._redis.ping()
        except _REDIS_ERRORS as exc:
            self._enter_degraded(exc)
            return False
        async with self._hand_back_lock:
            if self._degraded:
                await self._hand_back(self._redis)
        return not self._degraded

    async def _write_redis(
        self, operation: Callable[[RedisBackend], Awaitable[None]], record_outage: Callable[[], None]
    ) -> bool:
        """Apply a write to live Redis; True when it took it, else (if Redis is configured) log the outage."""
        redis = self._live_redis()
        if redis is not None:
            try:
                await operation(redis)
                return True
            except _REDIS_ERRORS as exc:
                self._enter_degraded(exc)
        if self._redis is not None:
            # Redis missed this write: the hand-back must erase what it may still hold for it.
            record_outage()
        return False

    def _live_redis(self) -> RedisBackend | None:
        return None if self._degraded else self._redis

    def _count(self, backend: str, hit: bool) -> None:
        if hit:
            self._hits[backend] += 1
            CACHE_HITS.labels(backend=backend).inc()
        else:
            self._misses[backend] += 1
            CACHE_MISSES.labels(backend=backend).inc()

    def _enter_degraded(self, exc: BaseException) -> None:
        CACHE_BACKEND_ERRORS.inc()
        if self._degraded:
            return
        self._degraded = True
        self._generations.forget()  # readings from before the outage prove nothing after it
        CACHE_DEGRADED.set(1)
        # The type only: redis-py messages name host and port, and the URL may carry a password.
        log.warning(
            "cache degraded: Redis failed (%s); serving from the in-process cache until it answers",
            type(exc).__name__,
        )

    async def _hand_back(self, redis: RedisBackend) -> None:
        for _ in range(_MAX_REPLAY_ROUNDS):
            pending = self._outage.take()
            try:
                await pending.replay(redis)
            except _REDIS_ERRORS:
                self._outage.restore(pending)
                return
            if len(pending):
                try:  # other replicas' memos may hold what this replica invalidated while Redis was out
                    await bump(redis, None)
                except _REDIS_ERRORS:
                    self._outage.restore(pending)
                    return
            # No await between this check and the switch: nothing can slip in unrecorded.
            if not len(self._outage):
                self._memory.clear()
                self._degraded = False
                CACHE_DEGRADED.set(0)
                log.info("cache: Redis answers again; handed back from the in-process cache")
                return

    async def _probe_loop(self) -> None:
        while True:
            await asyncio.sleep(self._probe_interval_s)
            try:
                await self.probe()
            except Exception:  # the probe must outlive any surprise; the next round tries again
                log.exception("cache: unexpected error while probing Redis")
