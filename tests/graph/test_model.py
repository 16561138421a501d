"""The columnar graph: incidence, policies by direction, market fees and node lookup."""

from __future__ import annotations

import pytest

from app.errors import AmbiguousNodeError, NodeNotFoundError
from tests.factories import make_graph, pubkey


@pytest.fixture
def graph():
    # us--p (us charges 100, p charges 200); p--x (x charges 300 into p); p--y (y disabled); x--y parallel twice
    return make_graph(
        [
            ("us", "p", 1_000_000, 100, 200),
            ("p", "x", 2_000_000, 50, 300),
            ("p", "y", 3_000_000, 60, None),
            ("x", "y", 4_000_000, 1, 1),
            ("x", "y", 5_000_000, 1, 1),
        ]
    )


def test_degrees_neighbors_and_capacity(graph):
    p, x, y = (graph.index[pubkey(n)] for n in ("p", "x", "y"))
    assert graph.degree(p) == 3
    assert graph.degree(x) == 3
    assert sorted(graph.neighbors(x).tolist()) == sorted([p, y])
    assert int(graph.node_capacity_sat[y]) == 12_000_000


def test_fee_rates_into_uses_the_other_ends_enabled_policy(graph):
    p = graph.index[pubkey("p")]
    us = graph.index[pubkey("us")]
    # into p: us charges 100, x charges 300; y announced nothing
    assert sorted(graph.fee_rates_into(p).tolist()) == [100, 300]
    assert graph.fee_rates_into(p, exclude=us).tolist() == [300]


def test_disabled_share_counts_missing_policies(graph):
    y = graph.index[pubkey("y")]
    assert graph.disabled_share(y) == pytest.approx(1 / 3)


def test_simple_edges_merge_parallel_channels(graph):
    low, high = graph.simple_edges()
    assert len(low) == len(high) == 4


def test_find_node_by_pubkey_alias_and_prefix(graph):
    assert graph.find_node(pubkey("x")) == graph.index[pubkey("x")]
    assert graph.find_node("US") == graph.index[pubkey("us")]
    with pytest.raises(NodeNotFoundError):
        graph.find_node("nobody")


def test_ambiguous_alias_lists_candidates():
    graph = make_graph([("node-a", "node-b", 1000, 1, 1)])
    with pytest.raises(AmbiguousNodeError) as caught:
        graph.find_node("node")
    assert len(caught.value.details["candidates"]) == 2
