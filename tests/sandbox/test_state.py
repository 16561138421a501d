"""The simulated sandbox state must be deterministic, labelled, and internally consistent with the graph."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from app.domain.channel import scid_block_height
from app.errors import InvalidInputError, NotFoundError
from app.graph.model import ChannelGraph
from app.graph.synthetic import FIRST_CHANNEL_HEIGHT, generate_graph
from app.sandbox.state import SNAPSHOT_NOW_S, SandboxState, generate_sandbox_state
from tests.factories import known

DAY_S = 86_400
NS = 1_000_000_000


@pytest.fixture(scope="module")
def synthetic_graph() -> ChannelGraph:
    """A small synthetic graph (2,000 nodes) whose node 0 is the scaled-down ACINQ hub."""
    return generate_graph(seed=11, node_count=2_000, channel_count=6_000)


@pytest.fixture(scope="module")
def hub_state(synthetic_graph: ChannelGraph) -> SandboxState:
    """Sandbox state of the synthetic graph's biggest hub."""
    return generate_sandbox_state(synthetic_graph, 0, seed=42)


@pytest.fixture(scope="module")
def acinq_state(real_graph: ChannelGraph) -> SandboxState:
    """Sandbox state of ACINQ in the real 2026-02-03 snapshot (skipped when the snapshot is absent)."""
    acinq = real_graph.find_node("03864ef025fde8fb587d989186ce6a4a186895ee44a926bfc370e2c366597a3f8f")
    return generate_sandbox_state(real_graph, acinq, seed=42)


def check_channels(state: SandboxState, graph: ChannelGraph) -> None:
    """Channel facts: one per graph edge, balances, reserves, liveness, realistic unique ids."""
    node = graph.index[state.node.pubkey]
    edges = graph.edges_of(node)
    assert len(state.channels) == graph.degree(node) == len(edges)
    assert state.graph_edges == edges.tolist()
    assert [c.remote_pubkey for c in state.channels] == [
        graph.pubkeys[p] for p in graph.other_ends(node, edges)
    ]
    tip = state.node.block_height
    for channel, edge in zip(state.channels, state.graph_edges, strict=True):
        assert channel.capacity_sat == graph.capacity_sat[edge]
        assert channel.local_balance_sat + channel.remote_balance_sat < channel.capacity_sat  # commit fee
        assert (
            channel.local_reserve_sat == channel.remote_reserve_sat == max(354, channel.capacity_sat // 100)
        )
        age_s = (tip - scid_block_height(channel.chan_id)) * 600
        assert channel.uptime_s <= channel.lifetime_s <= age_s
        assert channel.private is False
        value = int(channel.chan_id)
        assert FIRST_CHANNEL_HEIGHT <= value >> 40 <= tip - 6
        assert (value >> 16) & 0xFFFFFF < 4_000
        assert value & 0xFFFF < 4 and value & 0xFFFF == channel.output_index
        assert re.match(r"^[0-9a-f]{64}:[0-3]$", channel.channel_point)
    assert len({c.chan_id for c in state.channels}) == len(state.channels)
    assert len({c.channel_point for c in state.channels}) == len(state.channels)


def check_policies(state: SandboxState, graph: ChannelGraph) -> None:
    """Local policy = what the node announced (or a sane default), disabled exactly when inactive."""
    node = graph.index[state.node.pubkey]
    for channel, edge in zip(state.channels, state.graph_edges, strict=True):
        local, announced = channel.local_policy, graph.policy_of(edge, node)
        assert local is not None and announced is not None
        assert local.disabled is not channel.active
        sendable_msat = (channel.capacity_sat - channel.local_reserve_sat) * 1_000
        assert 1 <= known(local.min_htlc_msat) <= known(local.max_htlc_msat) <= sendable_msat
        if announced.disabled:
            assert known(local.max_htlc_msat) == sendable_msat
            assert known(local.time_lock_delta) > 0 and known(local.min_htlc_msat) == 1_000
        else:
            announced_max = known(announced.max_htlc_msat)
            max_htlc = announced_max if 0 < announced_max < sendable_msat else sendable_msat
            expected = announced.model_copy(
                update={
                    "disabled": local.disabled,
                    "max_htlc_msat": max_htlc,
                    "min_htlc_msat": min(max(known(announced.min_htlc_msat), 1), max_htlc),
                }
            )
            assert local == expected
        peer = graph.index[channel.remote_pubkey]
        assert channel.remote_policy == graph.policy_of(edge, peer)


def check_forwards(state: SandboxState) -> None:
    """Forwards: own channels only, in != out, LND's fee formula, sorted, inside the window, within limits."""
    start_ns, end_ns = (state.now_s - state.days * DAY_S) * NS, state.now_s * NS
    previous = start_ns
    for event in state.forwards:
        out = state.channel(event.chan_id_out)
        state.channel(event.chan_id_in)  # raises when not one of ours
        assert event.chan_id_in != event.chan_id_out
        assert out.local_policy is not None
        assert event.fee_msat == out.local_policy.fee_msat(event.amt_out_msat)
        assert event.amt_in_msat == event.amt_out_msat + event.fee_msat
        assert 0 < event.amt_out_msat <= out.local_balance_sat * 1_000
        max_htlc = known(out.local_policy.max_htlc_msat)
        assert max_htlc == 0 or event.amt_out_msat <= max_htlc  # LND ignores a max_htlc of 0
        assert previous <= event.timestamp_ns <= end_ns
        previous = event.timestamp_ns


def check_policy_changes(state: SandboxState) -> None:
    """Policy history: inside the window, the newest change of each channel carries its current fee."""
    latest: dict[str, tuple[int, int]] = {}
    for change in state.policy_changes:
        assert state.now_s - state.days * DAY_S <= change.changed_at_s <= state.now_s
        if change.chan_id not in latest or change.changed_at_s > latest[change.chan_id][0]:
            latest[change.chan_id] = (change.changed_at_s, change.fee_rate_ppm)
    for chan_id, (_, fee) in latest.items():
        policy = state.channel(chan_id).local_policy
        assert policy is not None and fee == policy.fee_rate_ppm
    moments = [c.changed_at_s for c in state.policy_changes]
    assert moments == sorted(moments)


def test_same_seed_same_state_other_seed_other_state(
    synthetic_graph: ChannelGraph, hub_state: SandboxState
) -> None:
    assert generate_sandbox_state(synthetic_graph, 0, seed=42) == hub_state
    other = generate_sandbox_state(synthetic_graph, 0, seed=43)
    assert other != hub_state
    assert [c.local_balance_sat for c in other.channels] != [c.local_balance_sat for c in hub_state.channels]
    assert other.forwards != hub_state.forwards


def test_labelled_as_simulated(hub_state: SandboxState) -> None:
    assert "SIMULATED" in hub_state.label
    assert hub_state.node.simulated is True
    assert "simulation" in hub_state.node.version
    assert hub_state.now_s == SNAPSHOT_NOW_S == 1_770_076_800  # 2026-02-03T00:00:00Z
    assert hub_state.node.block_height == 934_000
    assert hub_state.seed == 42 and hub_state.days == 30


def test_node_info_is_consistent(synthetic_graph: ChannelGraph, hub_state: SandboxState) -> None:
    info = hub_state.node
    assert info.pubkey == synthetic_graph.pubkeys[0]
    assert info.alias == "ACINQ (synthetic)"
    assert info.num_active_channels + info.num_inactive_channels == len(hub_state.channels)
    assert info.num_active_channels == sum(c.active for c in hub_state.channels)
    assert 0 < info.num_peers <= info.num_active_channels
    assert 0.85 <= info.num_active_channels / len(hub_state.channels) <= 0.99  # ~93 %


def test_channels(synthetic_graph: ChannelGraph, hub_state: SandboxState) -> None:
    check_channels(hub_state, synthetic_graph)
    ratios = np.array([c.local_ratio for c in hub_state.channels])
    assert np.mean(ratios < 0.15) >= 0.15 and np.mean(ratios > 0.85) >= 0.15
    assert np.mean((ratios >= 0.15) & (ratios <= 0.85)) >= 0.3
    uptime = np.array([c.uptime_s / c.lifetime_s for c in hub_state.channels if c.lifetime_s])
    assert np.mean(uptime >= 0.9) >= 0.7


def test_policies(synthetic_graph: ChannelGraph, hub_state: SandboxState) -> None:
    check_policies(hub_state, synthetic_graph)


def test_forwards(hub_state: SandboxState) -> None:
    check_forwards(hub_state)
    assert len(hub_state.forwards) > 1_000


def test_idle_channels_exist(hub_state: SandboxState) -> None:
    used = {f.chan_id_in for f in hub_state.forwards} | {f.chan_id_out for f in hub_state.forwards}
    idle_share = 1 - len(used) / len(hub_state.channels)
    assert 0.15 <= idle_share <= 0.40
    week_ago_ns = (hub_state.now_s - 7 * DAY_S) * NS
    recent = {f.chan_id_in for f in hub_state.forwards if f.timestamp_ns >= week_ago_ns}
    recent |= {f.chan_id_out for f in hub_state.forwards if f.timestamp_ns >= week_ago_ns}
    assert len(used - recent) >= 0.03 * len(hub_state.channels)  # active before, quiet this week


def test_policy_changes(hub_state: SandboxState) -> None:
    check_policy_changes(hub_state)
    per_channel = Counter(c.chan_id for c in hub_state.policy_changes)
    counts = [per_channel.get(c.chan_id, 0) for c in hub_state.channels]
    assert np.mean(np.array(counts) <= 2) >= 0.75
    assert max(counts) >= 5
    assert any(c.changed_at_s > hub_state.now_s - DAY_S for c in hub_state.policy_changes)


def test_lookups(hub_state: SandboxState) -> None:
    channel = hub_state.channels[3]
    assert hub_state.channel(channel.chan_id) is channel
    assert hub_state.graph_edge(channel.chan_id) == hub_state.graph_edges[3]
    with pytest.raises(NotFoundError):
        hub_state.channel("1")


def test_every_kind_of_node(synthetic_graph: ChannelGraph) -> None:
    for node in (1, 5, 500, 1_999):
        state = generate_sandbox_state(synthetic_graph, node, seed=1, days=14)
        check_channels(state, synthetic_graph)
        check_policies(state, synthetic_graph)
        check_forwards(state)
        check_policy_changes(state)
        if len(state.channels) < 2:
            assert state.forwards == []  # a forward needs two channels


def test_a_later_clock_moves_everything(synthetic_graph: ChannelGraph) -> None:
    later = SNAPSHOT_NOW_S + 10 * DAY_S
    state = generate_sandbox_state(synthetic_graph, 0, now_s=later, days=7)
    assert state.node.block_height == 934_000 + 10 * 144
    assert state.forwards[0].timestamp_ns >= (later - 7 * DAY_S) * NS
    check_channels(state, synthetic_graph)
    check_forwards(state)


def test_invalid_arguments(synthetic_graph: ChannelGraph) -> None:
    with pytest.raises(InvalidInputError):
        generate_sandbox_state(synthetic_graph, synthetic_graph.node_count)
    with pytest.raises(InvalidInputError):
        generate_sandbox_state(synthetic_graph, 0, days=0)


@pytest.mark.real_graph
def test_acinq_on_the_real_snapshot(real_graph: ChannelGraph, acinq_state: SandboxState) -> None:
    assert acinq_state.node.alias == "ACINQ"
    assert len(acinq_state.channels) == 1_989  # parallel channels included
    assert len({c.remote_pubkey for c in acinq_state.channels}) < 1_989
    check_channels(acinq_state, real_graph)
    check_policies(acinq_state, real_graph)
    check_policy_changes(acinq_state)


@pytest.mark.real_graph
def test_acinq_forwards_are_enough_to_page(acinq_state: SandboxState) -> None:
    assert 50_000 < len(acinq_state.forwards) < 80_000  # POST /v1/switch pages at most 50,000 a call
    check_forwards(acinq_state)


def test_full_size_synthetic_hub_pages_too() -> None:
    """Without the snapshot, the synthetic ACINQ stand-in still yields more than one page of forwards."""
    graph = generate_graph(seed=7)
    state = generate_sandbox_state(graph, graph.find_node("ACINQ (synthetic)"))
    assert len(state.channels) == 1_989
    assert 50_000 < len(state.forwards) < 80_000
