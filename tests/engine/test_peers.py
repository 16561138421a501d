"""Per-peer tables equal what the graph answers one peer at a time, and quartiles equal numpy's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine.peers import markets_into, position_in, quartiles, reach_of
from app.graph.synthetic import generate_graph


@pytest.fixture(scope="module")
def graph():
    return generate_graph(seed=9, node_count=2_000, channel_count=6_000)


@given(st.lists(st.integers(min_value=0, max_value=100_000), min_size=1, max_size=60))
def test_quartiles_are_numpys_percentiles_bit_for_bit(rates):
    assert quartiles(sorted(rates)) == tuple(float(v) for v in np.percentile(rates, [25, 50, 75]))


@given(st.lists(st.integers(min_value=0, max_value=500), min_size=1, max_size=60), st.integers(0, 500))
def test_position_counts_below_and_half_the_ties(rates, ours):
    below = sum(1 for rate in rates if rate < ours)
    ties = sum(1 for rate in rates if rate == ours)
    assert position_in(ours, sorted(rates)) == (below + 0.5 * ties) / len(rates)


def test_markets_match_the_graph_peer_by_peer(graph):
    us = max(range(graph.node_count), key=graph.degree)
    peers = [*graph.neighbors(us).tolist(), 0, 1, 2]  # also nodes we have no channel with
    markets = markets_into(graph, peers, exclude=us)
    assert set(markets) == set(peers)
    for peer in peers:
        assert markets[peer] == sorted(graph.fee_rates_into(peer, exclude=us).tolist())
    assert markets_into(graph, [us], exclude=None)[us] == sorted(graph.fee_rates_into(us).tolist())


def test_reach_matches_set_arithmetic_on_neighbours(graph):
    us = max(range(graph.node_count), key=graph.degree)
    ours = set(graph.neighbors(us).tolist())
    reach = reach_of(graph, ours, ours, exclude=us)
    for peer in ours:
        theirs = set(graph.neighbors(peer).tolist()) - {us}
        assert (reach[peer].alternatives, reach[peer].new_reach, reach[peer].neighbors) == (
            len(theirs & ours),
            len(theirs - ours),
            len(theirs),
        )
