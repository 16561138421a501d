"""Scouting for focal nodes that earn: every node's forwards and fees, and the picks made from them."""

from __future__ import annotations

from app.simulation.config import SimulationConfig
from app.simulation.payments import PaymentStats
from app.simulation.scout import SIZE_CLASSES, earners, hub, pick_focal_nodes
from app.simulation.simulator import simulate
from app.simulation.strategies.static import StaticFees

CONFIG = SimulationConfig(days=2, seed=0, payments_per_s=0.02, warmup_days=0)


def test_every_nodes_forwards_and_fees_are_counted(small_graph):
    stats = PaymentStats()
    result = simulate(small_graph, hub(small_graph), StaticFees(), CONFIG, stats=stats)
    focal = result.metrics["focal"]
    # The focal node's own counters agree with the network-wide ones.
    assert stats.node_forwards[hub(small_graph)] == focal["forwards"]
    assert stats.node_fees_msat[hub(small_graph)] == focal["revenue_msat"]
    # Fees the senders paid are exactly what the forwarding nodes earned.
    assert sum(stats.node_fees_msat.values()) == stats.fee_msat
    assert len(stats.node_forwards) > 10


def test_picks_are_the_hub_and_the_best_earner_of_each_size_class(small_graph):
    stats = PaymentStats()
    simulate(small_graph, hub(small_graph), StaticFees(), CONFIG, stats=stats)
    picks = dict(pick_focal_nodes(small_graph, stats, min_forwards_per_channel=0))
    assert picks["hub"] == int(small_graph.degrees.argmax())
    assert len(picks) >= 2  # at least one size class has an earner on this graph
    degrees = small_graph.degrees
    for label, low, high in SIZE_CLASSES:
        ranked = earners(small_graph, stats, low, high, min_forwards_per_channel=0)
        if not ranked:
            assert label not in picks
            continue
        assert picks[label] == ranked[0].node and low <= degrees[ranked[0].node] <= high
        best = max(stats.node_fees_msat[n] for n in stats.node_forwards if low <= degrees[n] <= high)
        assert ranked[0].fees_msat == best
        assert [e.fees_msat for e in ranked] == sorted((e.fees_msat for e in ranked), reverse=True)


def test_a_node_earning_from_a_handful_of_forwards_is_not_picked(small_graph):
    stats = PaymentStats()
    simulate(small_graph, hub(small_graph), StaticFees(), CONFIG, stats=stats)
    degrees = small_graph.degrees
    everyone = earners(small_graph, stats, 1, 10_000, min_forwards_per_channel=0)
    busy = earners(small_graph, stats, 1, 10_000, min_forwards_per_channel=2.0)
    assert busy and len(busy) < len(everyone)  # the threshold keeps some and drops some
    assert all(e.forwards >= 2.0 * degrees[e.node] for e in busy)
    assert {e.node for e in everyone} - {e.node for e in busy} == {
        e.node for e in everyone if e.forwards < 2.0 * degrees[e.node]
    }
