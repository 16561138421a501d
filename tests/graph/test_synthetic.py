"""The synthetic graph must look like the 2026-02-03 snapshot to everything downstream of the loader."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from app.graph.loader import PUBKEY_RE, parse_graph
from app.graph.model import ChannelGraph
from app.graph.synthetic import (
    FIRST_CHANNEL_HEIGHT,
    HUBS,
    SNAPSHOT_CHANNELS,
    SNAPSHOT_NODES,
    SNAPSHOT_NOW_S,
    block_height_at,
    generate_graph,
    generate_graph_document,
)
from tests.factories import known


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The full-size synthetic document for the default seed."""
    return generate_graph_document()


@pytest.fixture(scope="module")
def graph(document: dict[str, Any]) -> ChannelGraph:
    """The full-size synthetic document parsed by the real loader."""
    return parse_graph(document, source="synthetic(seed=7)", synthetic=True)


def _enabled(graph: ChannelGraph, column: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    enabled = np.concatenate([graph.policy1.enabled(), graph.policy2.enabled()])
    values = np.concatenate([getattr(graph.policy1, column), getattr(graph.policy2, column)])
    return np.asarray(values[enabled], dtype=np.int64)


def test_counts_match_the_snapshot(document: dict[str, Any], graph: ChannelGraph) -> None:
    assert len(document["nodes"]) == SNAPSHOT_NODES == graph.node_count == 17_324
    assert len(document["edges"]) == SNAPSHOT_CHANNELS == graph.edge_count == 50_808
    assert graph.degrees.min() >= 1  # every node has a channel, as in the snapshot
    assert document["_meta"]["synthetic"] is True
    assert document["_meta"]["seed"] == 7
    assert "2026-02-03" in document["_meta"]["imitates"]


def test_same_seed_gives_the_same_document_and_another_seed_does_not(document: dict[str, Any]) -> None:
    assert generate_graph_document(seed=7) == document
    other = generate_graph_document(seed=8)
    assert other["nodes"][0]["pub_key"] != document["nodes"][0]["pub_key"]
    assert other["edges"] != document["edges"]


def test_degrees_are_heavy_tailed_like_the_snapshot(graph: ChannelGraph) -> None:
    degrees = graph.degrees
    assert 0.48 <= float(np.mean(degrees == 1)) <= 0.60  # snapshot: 54 %
    assert np.percentile(degrees, 50) == 1
    assert 2 <= np.percentile(degrees, 75) <= 4  # snapshot: 3
    assert 6 <= np.percentile(degrees, 90) <= 11  # snapshot: 8
    assert 40 <= np.percentile(degrees, 99) <= 110  # snapshot: 74


def test_the_four_hubs_have_the_snapshot_degrees(graph: ChannelGraph) -> None:
    top = np.argsort(-graph.degrees)[:4]
    for rank, (alias, degree) in enumerate(HUBS):
        node = graph.find_node(alias)
        assert node == top[rank]
        assert abs(graph.degree(node) - degree) <= 0.05 * degree
    assert graph.aliases[10] == "synthetic-node-00010"


def test_capacity_quantiles(graph: ChannelGraph) -> None:
    capacity = graph.capacity_sat
    assert 1_000_000 <= np.median(capacity) <= 1_600_000  # snapshot: 1,283,178
    assert capacity.max() == 1_000_000_000
    assert 100_000 <= np.percentile(capacity, 25) <= 350_000  # snapshot: 200,000
    assert 3_500_000 <= np.percentile(capacity, 75) <= 7_000_000  # snapshot: 5,000,000


def test_enabled_share_and_disabled_halves_are_zeroed(graph: ChannelGraph) -> None:
    enabled = np.concatenate([graph.policy1.enabled(), graph.policy2.enabled()])
    assert 0.62 <= float(enabled.mean()) <= 0.68  # snapshot: 65,810 of 101,616
    for side in (graph.policy1, graph.policy2):
        off = side.disabled
        assert not side.fee_rate_ppm[off].any()
        assert not side.base_fee_msat[off].any()
        assert not side.time_lock_delta[off].any()
        assert np.array_equal(side.max_htlc_msat[off], graph.capacity_sat[off] * 1_000)


def test_fee_quantiles(graph: ChannelGraph) -> None:
    rates = _enabled(graph, "fee_rate_ppm")
    p10, p25, p50, p75, p90, p99 = np.percentile(rates, [10, 25, 50, 75, 90, 99])
    assert p10 <= 1 and p25 == 1  # snapshot: 1 / 1
    assert 60 <= p50 <= 150  # snapshot: 100
    assert 400 <= p75 <= 800  # snapshot: 569
    assert 1_500 <= p90 <= 2_600  # snapshot: 2,000
    assert 7_000 <= p99 <= 14_000  # snapshot: 10,000
    assert 0.055 <= float(np.mean(rates == 0)) <= 0.085  # snapshot: 6.9 %
    base = _enabled(graph, "base_fee_msat")
    assert 0.38 <= float(np.mean(base == 0)) <= 0.52  # snapshot: 45 %
    assert 0 <= np.percentile(base, 50) <= 500  # snapshot: 33 (a narrow band between 0 and 1000)
    assert np.percentile(base, 75) == 1_000
    cltv = _enabled(graph, "time_lock_delta")
    assert np.median(cltv) == 80
    assert set(np.unique(cltv).tolist()) <= {18, 34, 40, 80, 100, 144}


def test_htlc_limits(graph: ChannelGraph) -> None:
    for side in (graph.policy1, graph.policy2):
        on = side.enabled()
        assert set(np.unique(side.min_htlc_msat[on]).tolist()) <= {1, 1_000}
        capacity_msat = graph.capacity_sat[on] * 1_000
        max_htlc = side.max_htlc_msat[on]
        assert np.all((max_htlc == capacity_msat) | (max_htlc == capacity_msat * 99 // 100))


def test_identifiers_are_realistic_and_unique(document: dict[str, Any], graph: ChannelGraph) -> None:
    assert all(PUBKEY_RE.match(pubkey) for pubkey in graph.pubkeys)
    assert len(set(graph.pubkeys)) == graph.node_count
    assert all(edge["node1_pub"] < edge["node2_pub"] for edge in document["edges"])
    assert len(set(graph.channel_ids)) == graph.edge_count
    scids = np.array([int(chan_id) for chan_id in graph.channel_ids], dtype=np.int64)
    blocks = scids >> 40
    assert blocks.min() >= FIRST_CHANNEL_HEIGHT
    assert blocks.max() <= block_height_at(SNAPSHOT_NOW_S) - 6
    assert ((scids >> 16) & 0xFFFFFF).max() < 4_000
    outputs = scids & 0xFFFF
    assert outputs.max() < 4
    assert [int(point.split(":")[1]) for point in graph.chan_points] == outputs.tolist()
    assert all(re.match(r"^[0-9a-f]{64}:[0-3]$", point) for point in graph.chan_points)
    assert len(set(graph.chan_points)) == graph.edge_count


def test_round_trip_through_the_loader(graph: ChannelGraph) -> None:
    assert graph.synthetic is True
    assert any("SYNTHETIC" in note for note in graph.notes)
    loaded = generate_graph(seed=7, node_count=500, channel_count=1_500)
    assert loaded.synthetic is True
    assert loaded.source == "synthetic(seed=7)"
    edge = int(graph.edges_of(0)[0])
    policy = graph.policy_of(edge, 0)
    assert policy is not None and known(policy.max_htlc_msat) > 0


def test_no_self_loops_or_parallel_channels(graph: ChannelGraph) -> None:
    assert not np.any(graph.node1 == graph.node2)
    low, _ = graph.simple_edges()
    assert len(low) == graph.edge_count


def test_giant_component_holds_most_nodes(graph: ChannelGraph) -> None:
    n = graph.node_count
    adjacency = coo_matrix((np.ones(graph.edge_count), (graph.node1, graph.node2)), shape=(n, n))
    _, labels = connected_components(adjacency, directed=False)
    assert np.bincount(labels).max() >= 0.85 * n  # snapshot: 89.7 %


def test_small_variant_for_fast_tests() -> None:
    small = generate_graph(seed=3, node_count=500, channel_count=1_500)
    assert small.node_count == 500
    assert small.edge_count == 1_500
    assert small.degrees.min() >= 1
    assert small.aliases[0] == "ACINQ (synthetic)"
    assert int(np.argmax(small.degrees)) == 0
    assert generate_graph_document(3, 500, 1_500) == generate_graph_document(3, 500, 1_500)


@pytest.mark.parametrize(("nodes", "channels"), [(5, 10), (1_000, 400), (20, 1_000)])
def test_impossible_sizes_are_rejected(nodes: int, channels: int) -> None:
    with pytest.raises(ValueError, match="cannot build"):
        generate_graph_document(node_count=nodes, channel_count=channels)
