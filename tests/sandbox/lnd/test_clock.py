"""Simulated time: advancing the clock settles new, deterministic forwards priced with current policies."""

from __future__ import annotations

from app.graph.model import ChannelGraph
from app.sandbox.lnd.chanpolicy import PolicyUpdate, apply_policy_update
from app.sandbox.lnd.clock import SimulatedClock
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle
from app.sandbox.state import SandboxState

NS = 1_000_000_000
DAY = 86_400


def fresh(state: SandboxState, graph: ChannelGraph, clock: SimulatedClock | None = None) -> SimulatedNode:
    return SimulatedNode(state, graph, clock)


async def test_advance_grows_the_history_seen_over_http(sim: SimulatorHandle):
    before, start = len(sim.node.log), sim.node.now_s()
    sim.node.clock.advance(2 * DAY)
    assert sim.node.now_s() == start + 2 * DAY
    new = sim.node.log.events[before:]
    assert len(new) > 10
    assert all(start * NS < e.timestamp_ns <= (start + 2 * DAY) * NS for e in new)
    async with sim.client() as client:
        page = (
            await client.post("/v1/switch", json={"start_time": str(start + 1), "num_max_events": 50_000})
        ).json()
        info = (await client.get("/v1/getinfo")).json()
    assert len(page["forwarding_events"]) == len(new)
    assert info["block_height"] == sim.node.block_height() == 934_000 + 2 * DAY // 600


def test_new_forwards_are_deterministic_and_independent_of_step_size(small_state, small_graph):
    one, many = fresh(small_state, small_graph), fresh(small_state, small_graph)
    one.clock.advance(3 * DAY)
    for _ in range(12):
        many.clock.advance(DAY / 4)
    assert one.log.events == many.log.events
    assert len(one.log) > len(small_state.forwards)


def test_forwards_move_balances_and_earn_the_current_fee(small_state, small_graph):
    node = fresh(small_state, small_graph)
    before = {chan: (live.local_msat, live.remote_msat) for chan, live in node.channels.items()}
    node.clock.advance(DAY)
    event = node.log.events[len(small_state.forwards)]
    out = node.channels[event.chan_id_out]
    assert out.local_msat != before[event.chan_id_out][0]
    assert event.amt_in_msat - event.amt_out_msat >= out.policy.fee_msat(event.amt_out_msat)


def test_higher_fees_mean_fewer_forwards(small_state, small_graph):
    cheap, dear = fresh(small_state, small_graph), fresh(small_state, small_graph)
    raise_fees = PolicyUpdate(None, 50_000, 50_000, 80, 0, None, None)
    assert apply_policy_update(dear, raise_fees) == []
    cheap.clock.advance(5 * DAY)
    dear.clock.advance(5 * DAY)
    history = len(small_state.forwards)
    assert len(dear.log) - history < (len(cheap.log) - history) / 2


def test_a_flowing_clock_follows_wall_time(small_state, small_graph):
    wall = [100.0]
    clock = SimulatedClock(small_state.now_s, speed=60.0, wall=lambda: wall[0])
    node = fresh(small_state, small_graph, clock)
    wall[0] += 3_600  # one wall hour at 60x: 60 simulated hours
    assert node.now_s() == small_state.now_s + 60 * 3_600
    assert len(node.log) > len(small_state.forwards)
