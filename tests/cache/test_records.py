"""The in-process record memo: dropped by invalidations here at once, on another replica within the check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.cache import Cache
from app.cache.generations import CHECK_INTERVAL_S
from app.cache.records import LocalRecords
from app.cache.redis_server import RedisServer


class ManualClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    """One clock for both replicas' generation checks."""
    return ManualClock()


@pytest.fixture
async def replicas(
    redis_server: RedisServer, redis_client: Redis, clock: ManualClock
) -> AsyncIterator[tuple[Cache, Cache]]:
    """Two caches on the same (flushed) Redis, as two replicas of the service would have."""
    async with (
        Cache(redis_server.url, clock=clock) as first,
        Cache(redis_server.url, clock=clock) as second,
    ):
        yield first, second


async def remember(cache: Cache, key: tuple[str, ...], value: object, node_id: str | None = "n1") -> None:
    """Remember `value` for tenant t1 the way a service fills the memo."""
    epoch = await cache.fill_epoch("t1")
    await cache.remember(key, value, tenant_id="t1", node_id=node_id, max_age_s=300, epoch=epoch)


async def test_invalidating_a_node_drops_its_records_at_once_and_keeps_other_nodes(
    replicas: tuple[Cache, Cache],
) -> None:
    cache, _ = replicas
    await remember(cache, ("node", "t1", "n1"), "first node")
    await remember(cache, ("node", "t1", "n2"), "second node", node_id="n2")
    await cache.invalidate_node("t1", "n1")
    assert await cache.recall(("node", "t1", "n1")) is None
    assert await cache.recall(("node", "t1", "n2")) == "second node"


async def test_another_replica_sees_an_invalidation_within_the_check_interval(
    replicas: tuple[Cache, Cache], clock: ManualClock
) -> None:
    writer, reader = replicas
    await remember(reader, ("node", "t1", "n1"), "old")
    await writer.invalidate_node("t1", "n1")
    # The bound: the reader read the tenant's counter less than a check interval ago, so it still serves.
    assert await reader.recall(("node", "t1", "n1")) == "old"
    clock.advance(CHECK_INTERVAL_S)
    assert await reader.recall(("node", "t1", "n1")) is None


async def test_a_tenant_flush_on_another_replica_drops_tenant_wide_records_too(
    replicas: tuple[Cache, Cache], clock: ManualClock
) -> None:
    writer, reader = replicas
    await remember(reader, ("api-key", "hash"), "principal", node_id=None)
    await remember(reader, ("other tenant",), "kept")  # owned by t1 as well: the whole tenant goes
    epoch = await reader.fill_epoch("t2")
    await reader.remember(("t2 key",), "t2", tenant_id="t2", node_id=None, max_age_s=300, epoch=epoch)
    await writer.invalidate_tenant("t1")
    clock.advance(CHECK_INTERVAL_S)
    assert await reader.recall(("api-key", "hash")) is None
    assert await reader.recall(("other tenant",)) is None
    assert await reader.recall(("t2 key",)) == "t2"


async def test_a_value_loaded_before_an_invalidation_is_not_kept_after_it(
    replicas: tuple[Cache, Cache],
) -> None:
    cache, _ = replicas
    epoch = await cache.fill_epoch("t1")  # a load begins ...
    await cache.invalidate_node("t1", "n1")  # ... the record changes meanwhile ...
    await cache.remember(
        ("node", "t1", "n1"), "stale", tenant_id="t1", node_id="n1", max_age_s=300, epoch=epoch
    )
    assert await cache.recall(("node", "t1", "n1")) is None  # ... and the old value is refused


async def test_a_value_past_its_age_serves_concurrent_readers_while_one_reloads(
    replicas: tuple[Cache, Cache], clock: ManualClock
) -> None:
    records = LocalRecords(clock=clock)
    cache = Cache(records=records)
    loads = 0
    release = asyncio.Event()

    async def load() -> str:
        nonlocal loads
        loads += 1
        await release.wait()
        return f"value {loads}"

    def read() -> asyncio.Task[str]:
        return asyncio.create_task(
            cache.remembered(("page",), load, tenant_id="t1", node_id="n1", max_age_s=1.0)
        )

    first = read()
    release.set()
    assert await first == "value 1"
    release.clear()
    clock.advance(1.0)
    reloading = read()
    await asyncio.sleep(0)  # let it start its reload
    assert await read() == "value 1"  # served the old value, not queued behind the reload
    release.set()
    assert await reloading == "value 2"
    assert loads == 2


async def test_readers_finding_nothing_wait_for_the_one_load_in_flight() -> None:
    cache = Cache()
    loads = 0
    release = asyncio.Event()

    async def load() -> str:
        nonlocal loads
        loads += 1
        number = loads
        await release.wait()
        if number == 2:
            raise RuntimeError("the node is down")
        return f"value {number}"

    def read() -> asyncio.Task[str]:
        return asyncio.create_task(
            cache.remembered(("gate",), load, tenant_id="t1", node_id="n1", max_age_s=300.0)
        )

    async def started() -> asyncio.Task[str]:
        """A reader that has begun (loading, or waiting for a load)."""
        reader = read()
        await asyncio.sleep(0)
        return reader

    readers = [read() for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*readers) == ["value 1"] * 3 and loads == 1  # one load, three readers
    # After an invalidation a reader does not join a load that began before it: that value was dropped.
    await cache.invalidate_node("t1", "n1")
    release.clear()
    failing, joined = await started(), await started()
    await cache.invalidate_node("t1", "n1")
    fresh = await started()
    release.set()
    outcomes = await asyncio.gather(failing, joined, fresh, return_exceptions=True)
    assert [str(outcome) for outcome in outcomes[:2]] == ["the node is down"] * 2  # the failure is shared
    assert outcomes[2] == "value 3" and loads == 3  # the reader after the invalidation loaded afresh
    # A load cancelled with its request leaves a waiting reader to load the value itself.
    await cache.invalidate_node("t1", "n1")
    release.clear()
    cancelled, waiting = await started(), await started()
    cancelled.cancel()
    await asyncio.sleep(0)
    release.set()
    assert await waiting == "value 5" and loads == 5  # its own load (the cancelled one was the 4th)
    with pytest.raises(asyncio.CancelledError):
        await cancelled


async def test_without_redis_the_memo_serves_and_invalidations_drop_it() -> None:
    async with Cache() as cache:
        await remember(cache, ("node", "t1", "n1"), "record")
        assert await cache.recall(("node", "t1", "n1")) == "record"
        await cache.invalidate_tenant("t1")
        assert await cache.recall(("node", "t1", "n1")) is None


async def test_nothing_is_served_from_the_memo_while_redis_is_out(
    own_server: RedisServer, clock: ManualClock
) -> None:
    async with Cache(own_server.url, probe_interval_s=3600, clock=clock) as cache:
        await remember(cache, ("node", "t1", "n1"), "record")
        assert await cache.recall(("node", "t1", "n1")) == "record"
        own_server.stop()
        clock.advance(CHECK_INTERVAL_S)
        # Another replica's invalidation could not be learnt: the caller reads storage instead.
        assert await cache.recall(("node", "t1", "n1"), expired_ok=True) is None
        assert cache.degraded
