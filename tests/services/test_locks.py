"""Node leases: one writer per node, background renewal while held, and losing a stolen lease."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from app.errors import ConflictError
from app.services.locks import NodeBusyError, NodeLocks, lease_name
from app.storage.database import Storage
from tests.storage.conftest import storage  # noqa: F401  (the `storage` fixture; hence F811 on the tests)

pytestmark = pytest.mark.timeout(60)

TTL_S = 0.5  # renewed every third of it while held
DEADLINE_S = 10.0  # generous bound for things that should happen within a few renewals


async def eventually(condition: Callable[[], Awaitable[bool]], within_s: float = DEADLINE_S) -> bool:
    """Poll `condition` until it holds or `within_s` passes; whether it held."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while loop.time() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.02)
    return await condition()


async def test_a_second_hold_on_the_same_node_is_refused_naming_what_is_busy(storage: Storage):  # noqa: F811
    locks = NodeLocks(storage.leases, "replica-a", ttl_s=30)
    async with locks.hold("t1", "n1", "cycle") as lock:
        assert await lock.held()
        assert lock.name == lease_name("t1", "n1") == "node/t1/n1"
        with pytest.raises(NodeBusyError) as caught:
            async with locks.hold("t1", "n1", "rollback"):
                pytest.fail("a second writer got the node")
        error = caught.value
        assert isinstance(error, ConflictError)
        assert error.code == "node_busy"
        assert error.details == {"node_id": "n1", "busy_with": "cycle"}
        assert "cycle in progress" in error.message
        assert await lock.held()  # the refused attempt did not disturb the holder
        stored = await storage.leases.get(lock.name)
        assert stored is not None and stored.holder == lock.holder


async def test_another_replica_is_refused_too(storage: Storage):  # noqa: F811
    mine = NodeLocks(storage.leases, "replica-a", ttl_s=30)
    theirs = NodeLocks(storage.leases, "replica-b", ttl_s=30)
    async with mine.hold("t1", "n1", "batch"):
        with pytest.raises(NodeBusyError) as caught:
            async with theirs.hold("t1", "n1", "cycle"):
                pytest.fail("a second writer got the node")
        assert caught.value.details["busy_with"] == "batch"


async def test_the_node_can_be_taken_again_after_release(storage: Storage):  # noqa: F811
    locks = NodeLocks(storage.leases, "replica-a", ttl_s=30)
    async with locks.hold("t1", "n1", "cycle") as first:
        pass
    assert await storage.leases.get(first.name) is None  # released at once, not left to expire
    async with locks.hold("t1", "n1", "rollback") as second:
        assert await second.held()
        assert second.holder != first.holder


async def test_the_lease_is_released_when_the_block_raises(storage: Storage):  # noqa: F811
    locks = NodeLocks(storage.leases, "replica-a", ttl_s=30)
    with pytest.raises(RuntimeError):
        async with locks.hold("t1", "n1", "cycle"):
            raise RuntimeError("the batch failed")
    async with locks.hold("t1", "n1", "recovery") as lock:
        assert await lock.held()


async def test_different_nodes_and_tenants_do_not_block_each_other(storage: Storage):  # noqa: F811
    locks = NodeLocks(storage.leases, "replica-a", ttl_s=30)
    async with (
        locks.hold("t1", "n1", "cycle") as one,
        locks.hold("t1", "n2", "cycle") as two,
        locks.hold("t2", "n1", "cycle") as three,
    ):
        assert all([await one.held(), await two.held(), await three.held()])
        assert len({one.name, two.name, three.name}) == 3


async def test_a_held_lease_is_renewed_past_its_ttl(storage: Storage):  # noqa: F811
    locks = NodeLocks(storage.leases, "replica-a", ttl_s=TTL_S)
    rival = NodeLocks(storage.leases, "replica-b", ttl_s=TTL_S)
    loop = asyncio.get_running_loop()
    async with locks.hold("t1", "n1", "cycle") as lock:
        first = await storage.leases.get(lock.name)
        assert first is not None
        started = loop.time()
        attempts = 0
        # Keep trying for several lifetimes of the lease: without renewal it would expire after one.
        while loop.time() - started < 4 * TTL_S:
            attempts += 1
            with pytest.raises(NodeBusyError):
                async with rival.hold("t1", "n1", "rollback"):
                    pytest.fail("the rival took a lease that should have been renewed")
            await asyncio.sleep(0.05)
        assert attempts > 1
        assert await lock.held()

        async def renewed() -> bool:
            current = await storage.leases.get(lock.name)
            return current is not None and current.expires_at > first.expires_at

        assert await eventually(renewed)
    async with rival.hold("t1", "n1", "rollback") as taken:  # released: free at once
        assert await taken.held()


async def test_a_deleted_lease_is_noticed_as_lost(storage: Storage):  # noqa: F811
    locks = NodeLocks(storage.leases, "replica-a", ttl_s=TTL_S)
    async with locks.hold("t1", "n1", "cycle") as lock:
        assert await storage.leases.release(lock.name, lock.holder)  # someone removed it

        async def lost() -> bool:
            return not await lock.held()

        assert await eventually(lost)


async def test_a_stolen_lease_is_noticed_and_left_to_the_thief(storage: Storage):  # noqa: F811
    locks = NodeLocks(storage.leases, "replica-a", ttl_s=TTL_S)
    async with locks.hold("t1", "n1", "cycle") as lock:
        stored = await storage.database["leases"].find_one({"_id": lock.name})
        assert stored is not None
        stolen = {**stored, "holder": "replica-b/cycle/thief"}
        result = await storage.database["leases"].replace_one({"_id": lock.name}, stolen)
        assert result.matched_count == 1

        async def lost() -> bool:
            return not await lock.held()

        assert await eventually(lost)
    lease = await storage.leases.get(lock.name)
    assert lease is not None and lease.holder == "replica-b/cycle/thief"  # leaving did not release it
