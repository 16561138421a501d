"""Leases: one winner among racing acquirers (one client or two), expiry, renewal and release."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from app.storage.database import Storage
from app.storage.fields import utc_now


@pytest.fixture
def t0():
    """Now: leases abandoned for a day are removed by the TTL index (nx-27017 does it on every access)."""
    return utc_now()


async def test_exactly_one_of_twenty_concurrent_acquirers_wins(storage: Storage, t0):
    for name in ("cycle/t1/n1", "cycle/t1/n2", "scheduler"):
        results = await asyncio.gather(
            *(storage.leases.acquire(name, f"replica-{n}", 30, t0) for n in range(20))
        )
        assert results.count(True) == 1
        lease = await storage.leases.get(name)
        assert lease is not None and lease.holder == f"replica-{results.index(True)}"
        assert lease.expires_at == t0 + timedelta(seconds=30)


async def test_two_clients_like_two_replicas_respect_the_lease(storage: Storage, second_client: Storage, t0):
    for round_ in range(5):
        name = f"cycle/t1/n{round_}"
        attempts = [
            replica.leases.acquire(name, f"{label}-{n}", 30, t0)
            for n in range(10)
            for label, replica in (("a", storage), ("b", second_client))
        ]
        assert (await asyncio.gather(*attempts)).count(True) == 1


async def test_expiry_lets_exactly_one_other_holder_in(storage: Storage, second_client: Storage, t0):
    assert await storage.leases.acquire("job", "a", 10, t0)
    assert not await storage.leases.acquire("job", "b", 10, t0 + timedelta(seconds=9, milliseconds=999))
    expired = t0 + timedelta(seconds=10)  # exact to the millisecond, although nx compares dates by the second
    racers = [
        replica.leases.acquire("job", f"{n}", 10, expired)
        for n in range(10)
        for replica in (storage, second_client)
    ]
    assert (await asyncio.gather(*racers)).count(True) == 1
    lease = await storage.leases.get("job")
    assert lease is not None and lease.holder != "a"
    assert not await storage.leases.renew("job", "a", 10, expired)  # a lost it and must stop its work
    assert not await storage.leases.release("job", "a")


async def test_holder_extends_renews_and_releases(storage: Storage, t0):
    assert await storage.leases.acquire("job", "a", 10, t0)
    assert await storage.leases.acquire("job", "a", 10, t0 + timedelta(seconds=5))  # re-acquire extends
    assert await storage.leases.renew("job", "a", 10, t0 + timedelta(seconds=14))
    lease = await storage.leases.get("job")
    assert lease is not None and lease.expires_at == t0 + timedelta(seconds=24)
    assert not await storage.leases.renew("job", "b", 10, t0)
    assert not await storage.leases.renew("job", "a", 10, t0 + timedelta(seconds=24))  # already expired
    assert not await storage.leases.release("job", "b")
    assert await storage.leases.release("job", "a")
    assert await storage.leases.get("job") is None
    assert await storage.leases.acquire("job", "b", 10, t0)
    with pytest.raises(ValueError):
        await storage.leases.acquire("job", "b", 0, t0)


async def test_a_lease_abandoned_long_ago_is_free_whether_or_not_the_ttl_removed_it(storage: Storage, t0):
    assert await storage.leases.acquire("job", "crashed", 10, t0 - timedelta(days=3))
    assert await storage.leases.acquire("job", "b", 10, t0)
    lease = await storage.leases.get("job")
    assert lease is not None and lease.holder == "b"
