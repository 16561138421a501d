"""Channel pages: served from the cache under the cycle they were cut from, never stale after a sync."""

from __future__ import annotations

import orjson

from app.cache.keys import cache_key
from app.cache.ttl import TtlClass
from app.services.cycles import CycleService
from app.services.observe import channels_cycle_key
from app.services.runtime import ServiceRuntime
from app.storage.records import NodeRecord
from tests.api.conftest import Service, tenant_with_key


async def registered_node(service: Service, name: str) -> NodeRecord:
    """A node registered over the API, as the service stores it."""
    tenant_id, key = await tenant_with_key(service, name)
    async with service.client(key) as api:
        node_id = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
    runtime: ServiceRuntime = service.app.state.runtime
    return await runtime.storage.nodes.get(tenant_id, node_id)


async def test_pages_are_cached_per_cycle_and_a_new_sync_replaces_them(service: Service):
    cycles = CycleService(service.app.state.runtime)
    cache = cycles.runtime.cache
    node = await registered_node(service, "pages")
    empty = orjson.loads(await cycles.channels.page(node, 10, None))
    assert empty == {"cycle_id": None, "items": [], "next_cursor": None}

    first_sync = await cycles.sync(node, actor="test")
    first = await cycles.channels.page(node, 10, None)
    assert orjson.loads(first)["cycle_id"] == first_sync["cycle_id"]
    page_key = cache_key(node.tenant_id, node.id, "channels-page", first_sync["cycle_id"], 10, "")
    assert await cache.get_bytes(page_key) == first
    assert await cycles.channels.page(node, 10, None) == first  # the cached bytes, as sent

    second_sync = await cycles.sync(node, actor="test")
    assert await cache.get_bytes(channels_cycle_key(node)) == second_sync["cycle_id"].encode()
    after = orjson.loads(await cycles.channels.page(node, 10, None))
    assert after["cycle_id"] == second_sync["cycle_id"] != first_sync["cycle_id"]


async def test_a_page_cut_from_an_old_list_is_never_served_after_the_sync(service: Service):
    cycles = CycleService(service.app.state.runtime)
    cache = cycles.runtime.cache
    node = await registered_node(service, "race")
    old = await cycles.sync(node, actor="test")
    new = await cycles.sync(node, actor="test")
    # A request that read the old list while the sync ran writes its page late, under the old cycle.
    stale_key = cache_key(node.tenant_id, node.id, "channels-page", old["cycle_id"], 5, "")
    await cache.set_bytes(
        stale_key, b'{"cycle_id": "stale", "items": [], "next_cursor": null}', TtlClass.CHANNELS
    )
    served = orjson.loads(await cycles.channels.page(node, 5, None))
    assert served["cycle_id"] == new["cycle_id"] and len(served["items"]) == 5


async def test_a_cursor_of_no_listed_channel_continues_after_it_and_makes_no_cache_entry(service: Service):
    cycles = CycleService(service.app.state.runtime)
    node = await registered_node(service, "cursors")
    synced = await cycles.sync(node, actor="test")
    first = orjson.loads(await cycles.channels.page(node, 10, None))
    page = orjson.loads(await cycles.channels.page(node, 10, "999"))  # below every chan_id listed
    assert page == first and page["cycle_id"] == synced["cycle_id"]
    last = orjson.loads(await cycles.channels.page(node, 10, str(2**64 - 1)))  # above every one
    assert last == {"cycle_id": synced["cycle_id"], "items": [], "next_cursor": None}
    key = cache_key(node.tenant_id, node.id, "channels-page", synced["cycle_id"], 10, "999")
    assert await cycles.runtime.cache.get_bytes(key) is None


async def test_the_listing_is_rebuilt_from_storage_when_the_cache_is_empty(service: Service):
    cycles = CycleService(service.app.state.runtime)
    node = await registered_node(service, "rebuild")
    synced = await cycles.sync(node, actor="test")
    hot = orjson.loads(await cycles.channels.page(node, 500, None))
    await cycles.runtime.cache.invalidate_node(node.tenant_id, node.id)
    cold = orjson.loads(await cycles.channels.page(node, 500, None))
    assert cold == hot and cold["cycle_id"] == synced["cycle_id"]
    assert await cycles.runtime.cache.get_bytes(channels_cycle_key(node)) == synced["cycle_id"].encode()
    stored = await cycles.runtime.storage.channel_lists.get(node.tenant_id, node.id, synced["cycle_id"])
    assert stored is not None and len(stored) == len(service.simulator.node.channels)
    assert stored == hot["items"]  # what it rebuilt from
    # A sync whose list was not stored (made before lists were): the same views from its snapshots.
    await cycles.runtime.storage.database["channel_lists"].delete_many({"tenant_id": node.tenant_id})
    await cycles.runtime.cache.invalidate_node(node.tenant_id, node.id)
    from_snapshots = orjson.loads(await cycles.channels.page(node, 500, None))
    assert from_snapshots == hot
