"""Hot authenticated reads: no storage round trip for unchanged data, and every write is seen at once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Service, dump, running_service, tenant_with_key

READS = 5


@pytest.fixture
async def service(tmp_path: Path, mongo_url: str) -> AsyncIterator[Service]:
    """The running service with a rate limit the repeated reads do not hit."""
    async with running_service(tmp_path, mongo_url, rate_limit_per_second=1_000) as running:
        yield running


def count_calls(counter: Counter[str], repository: Any, method: str) -> None:
    """Count calls of the real repository method (it still runs: a spy, not a stand-in)."""
    real: Callable[..., Awaitable[Any]] = getattr(repository, method)

    async def counted(*args: Any, **kwargs: Any) -> Any:
        counter[method] += 1
        return await real(*args, **kwargs)

    setattr(repository, method, counted)


async def synced_node(service: Service) -> tuple[str, str, str, str]:
    """Tenant id, admin key, node id and a chan_id of a node synced and optimized once."""
    tenant_id, key = await tenant_with_key(service, "hot")
    async with service.client(key) as api:
        node_id = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
        optimized = await api.post(f"/api/v1/nodes/{node_id}/optimize", json={"mode": "shadow"})
        assert optimized.status_code == 200, dump(optimized)
        chan_id = (await api.get(f"/api/v1/nodes/{node_id}/channels", params={"limit": 1})).json()["items"][
            0
        ]["chan_id"]
    return tenant_id, key, node_id, chan_id


async def test_hot_reads_make_no_storage_round_trip(service: Service) -> None:
    _, key, node_id, chan_id = await synced_node(service)
    storage = service.app.state.runtime.storage
    calls: Counter[str] = Counter()
    count_calls(calls, storage.nodes, "get")
    count_calls(calls, storage.api_keys, "find_active_by_hash")
    count_calls(calls, storage.channels, "latest")
    count_calls(calls, storage.channels, "for_cycle")
    count_calls(calls, storage.metrics, "latest")
    count_calls(calls, storage.decisions, "list")
    node = f"/api/v1/nodes/{node_id}"
    paths = [node, f"{node}/channels?limit=100", f"{node}/channels/{chan_id}/score", f"{node}/settings"]
    async with service.client(key) as api:
        for path in [*paths, f"{node}/decisions"]:  # the first read of each fills the memo
            assert (await api.get(path)).status_code == 200
        calls.clear()
        started = time.monotonic()
        for _ in range(READS):
            for path in [*paths, f"{node}/decisions"]:
                response = await api.get(path)
                assert response.status_code == 200, dump(response)
        elapsed = time.monotonic() - started
    assert {name: calls[name] for name in calls if name != "list"} == {}
    # Decision pages live DECISIONS_MAX_AGE_S (1 s): at most one reload per second of reading.
    assert calls["list"] <= 1 + int(elapsed)


async def test_a_settings_change_is_read_back_at_once(service: Service) -> None:
    _, key, node_id, _ = await synced_node(service)
    async with service.client(key) as api:
        before = (await api.get(f"/api/v1/nodes/{node_id}/settings")).json()
        assert before["pinned_channels"] == []
        changed = await api.put(
            f"/api/v1/nodes/{node_id}/settings", json={**before, "pinned_channels": ["1"]}
        )
        assert changed.status_code == 200, dump(changed)
        after = (await api.get(f"/api/v1/nodes/{node_id}/settings")).json()
        assert after["pinned_channels"] == ["1"]


async def test_a_deleted_node_is_404_at_once_on_every_cached_route(service: Service) -> None:
    _, key, node_id, chan_id = await synced_node(service)
    node = f"/api/v1/nodes/{node_id}"
    paths = [
        node,
        f"{node}/channels",
        f"{node}/channels/{chan_id}/score",
        f"{node}/decisions",
        f"{node}/settings",
    ]
    lists = service.app.state.runtime.storage.database["channel_lists"]
    assert await lists.count_documents({"node_id": node_id}) == 1  # the sync's list, one part
    async with service.client(key) as api:
        for path in paths:
            assert (await api.get(path)).status_code == 200
        assert (await api.delete(node)).status_code == 204
        for path in paths:
            assert (await api.get(path)).status_code == 404, path
    # Its stored channel list goes with it (history such as snapshots and transactions stays).
    assert await lists.count_documents({"node_id": node_id}) == 0


async def test_a_revoked_key_is_refused_at_once(service: Service) -> None:
    tenant_id, key, node_id, _ = await synced_node(service)
    async with service.client(key) as admin:
        viewer = (
            await admin.post(f"/api/v1/tenants/{tenant_id}/keys", json={"name": "v", "role": "viewer"})
        ).json()
        async with service.client(viewer["key"]) as api:
            assert (await api.get(f"/api/v1/nodes/{node_id}")).status_code == 200
            revoked = await admin.delete(f"/api/v1/tenants/{tenant_id}/keys/{viewer['id']}")
            assert revoked.status_code in (200, 204), dump(revoked)
            refused = await api.get(f"/api/v1/nodes/{node_id}")
            assert refused.status_code == 401, dump(refused)


async def test_a_warm_node_stays_404_for_another_tenant(service: Service) -> None:
    _, key, node_id, _ = await synced_node(service)
    _, other = await tenant_with_key(service, "other")
    async with service.client(key) as owner, service.client(other) as intruder:
        assert (await owner.get(f"/api/v1/nodes/{node_id}/channels")).status_code == 200
        for path in (f"/api/v1/nodes/{node_id}", f"/api/v1/nodes/{node_id}/channels"):
            assert (await intruder.get(path)).status_code == 404


@pytest.mark.parametrize("cursor", ["garbage", "-1", "1.5", "1" * 21, str(2**64)])
async def test_a_malformed_channel_cursor_is_422_like_the_other_lists(service: Service, cursor: str) -> None:
    _, key, node_id, _ = await synced_node(service)
    async with service.client(key) as api:
        channels = await api.get(f"/api/v1/nodes/{node_id}/channels", params={"cursor": cursor})
        decisions = await api.get(f"/api/v1/nodes/{node_id}/decisions", params={"cursor": "garbage"})
    assert channels.status_code == decisions.status_code == 422, dump(channels)
    assert channels.json()["error"]["code"] == decisions.json()["error"]["code"]
    assert channels.json()["error"]["message"] == decisions.json()["error"]["message"]


async def test_a_cursor_of_a_channel_no_longer_listed_continues_after_it(service: Service) -> None:
    _, key, node_id, _ = await synced_node(service)
    async with service.client(key) as api:
        listed = (await api.get(f"/api/v1/nodes/{node_id}/channels", params={"limit": 3})).json()["items"]
        gap = str(int(listed[1]["chan_id"]) - 1)  # between the first two: no such channel
        assert gap != listed[0]["chan_id"]
        page = await api.get(f"/api/v1/nodes/{node_id}/channels", params={"cursor": gap, "limit": 2})
    assert page.status_code == 200, dump(page)
    assert [item["chan_id"] for item in page.json()["items"]] == [listed[1]["chan_id"], listed[2]["chan_id"]]
