"""`POST /v1/switch`: LND's time range, index-offset paging, the 50,000 cap, and channel filters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.graph.model import ChannelGraph
from app.sandbox.lnd.server import SimulatorHandle, running_simulator
from app.sandbox.state import SandboxState

NS = 1_000_000_000


@pytest.fixture
async def big_sim(big_source: tuple[ChannelGraph, SandboxState]) -> AsyncIterator[SimulatorHandle]:
    graph, state = big_source
    async with running_simulator(state, graph) as handle:
        yield handle


async def switch(sim: SimulatorHandle, **body: Any) -> dict[str, Any]:
    async with sim.client(timeout=30) as client:
        response = await client.post("/v1/switch", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_paging_returns_every_event_exactly_once(big_sim: SimulatorHandle):
    total = len(big_sim.node.log)
    assert total > 50_000
    seen: list[str] = []
    offset, pages = 0, 0
    while True:
        page = await switch(big_sim, start_time="0", index_offset=offset, num_max_events=60_000)
        events = page["forwarding_events"]
        if not events:
            break
        assert len(events) <= 50_000  # LND's ceiling per response
        assert page["last_offset_index"] == offset + len(events)
        seen += [event["timestamp_ns"] for event in events]
        offset, pages = page["last_offset_index"], pages + 1
    assert pages == 2
    assert len(seen) == len(set(seen)) == total
    assert seen == sorted(seen, key=int)


async def test_default_page_is_100_oldest_first(sim: SimulatorHandle):
    page = await switch(sim)
    events = page["forwarding_events"]
    assert len(events) == 100 and page["last_offset_index"] == 100
    first = sim.node.log.events[0]
    assert events[0]["timestamp_ns"] == str(first.timestamp_ns)
    assert events[0]["timestamp"] == str(first.timestamp_ns // NS)
    assert events[0]["fee_msat"] == str(first.amt_in_msat - first.amt_out_msat)
    assert events[0]["amt_in"] == str(first.amt_in_msat // 1000)
    assert "incoming_htlc_id" not in events[0]  # proto3 optional and unset: protojson omits it


async def test_time_range_is_inclusive_and_end_defaults_to_now(sim: SimulatorHandle):
    log = sim.node.log.events
    middle = log[len(log) // 2].timestamp_ns // NS
    inside = [e for e in log if middle * NS <= e.timestamp_ns <= (middle + 86_400) * NS]
    page = await switch(sim, start_time=str(middle), end_time=str(middle + 86_400), num_max_events=50_000)
    assert [e["timestamp_ns"] for e in page["forwarding_events"]] == [str(e.timestamp_ns) for e in inside]
    everything = await switch(sim, num_max_events=50_000)
    assert len(everything["forwarding_events"]) == len(log)


async def test_channel_filters_and_offsets_count_matches(sim: SimulatorHandle):
    chan = sim.node.log.events[0].chan_id_out
    matching = [e for e in sim.node.log.events if e.chan_id_out == chan]
    page = await switch(sim, outgoing_chan_ids=[chan], num_max_events=2, index_offset=1)
    assert [e["timestamp_ns"] for e in page["forwarding_events"]] == [
        str(e.timestamp_ns) for e in matching[1:3]
    ]
    assert page["last_offset_index"] == 1 + len(page["forwarding_events"])
    inbound = await switch(sim, incoming_chan_ids=[chan], num_max_events=50_000)
    assert all(e["chan_id_in"] == chan for e in inbound["forwarding_events"])


async def test_peer_alias_lookup(sim: SimulatorHandle):
    event = (await switch(sim, num_max_events=1, peer_alias_lookup=True))["forwarding_events"][0]
    live = sim.node.channels[event["chan_id_out"]]
    assert event["peer_alias_out"] == sim.node.peer_alias(live.channel.remote_pubkey) != ""
