"""Retries on cached trees: the next-best route without a search, and a full search when no detour is valid."""

from __future__ import annotations

import itertools

import numpy as np

from app.simulation.config import SimulationConfig
from app.simulation.costs import CostModel, bucket_of
from app.simulation.network import SimNetwork
from app.simulation.routing import RouteFinder, RoutingTables, shortest_tree
from app.simulation.simulator import seeded_network
from tests.simulation.graphs import graph_of, half_balanced, policy

AMOUNT_MSAT = 100_000_000
BUCKET = bucket_of(AMOUNT_MSAT)


def finder_for(network: SimNetwork, focal: str) -> tuple[RouteFinder, dict[str, int]]:
    names = {alias: i for i, alias in enumerate(network.graph.aliases)}
    tables = RoutingTables(network, names[focal], CostModel(), cache_size=10)
    return RouteFinder(tables, network), names


def test_a_failed_channel_is_avoided_by_the_next_cheapest_route_without_a_search():
    network = half_balanced(
        graph_of(
            [
                ("A", "B", 10_000_000, policy(ppm=10), policy()),
                ("A", "C", 10_000_000, policy(ppm=10), policy()),
                ("A", "E", 10_000_000, policy(ppm=10), policy(ppm=5_000)),  # E's way back to A is dear
                ("B", "D", 10_000_000, policy(ppm=500), policy()),
                ("C", "D", 10_000_000, policy(ppm=10), policy()),
                ("D", "E", 10_000_000, policy(), policy(ppm=200)),
            ]
        )
    )
    finder, n = finder_for(network, "B")
    assert finder.route(n["A"], n["D"], BUCKET) == [n["A"], n["C"], n["D"]]
    avoid = {network.pair_id(n["C"], n["D"])}
    assert finder.route(n["A"], n["D"], BUCKET, avoid) == [n["A"], n["E"], n["D"]]  # 200 ppm beats B's 500
    assert (finder.detours, finder.slow_searches) == (1, 0)


def test_when_every_detour_crosses_the_failed_channel_the_sender_searches_the_graph():
    # A-B-X-D is cheapest; with X->D failed, A's only other step (C) continues through X->D on the tree,
    # so no single deviation is valid and the exact search finds A-C-Y-D.
    network = half_balanced(
        graph_of(
            [
                ("A", "B", 10_000_000, policy(ppm=10), policy()),
                ("A", "C", 10_000_000, policy(ppm=20), policy()),
                ("B", "X", 10_000_000, policy(ppm=10), policy()),
                ("C", "X", 10_000_000, policy(ppm=10), policy(ppm=500)),
                ("C", "Y", 10_000_000, policy(ppm=100), policy()),
                ("D", "X", 10_000_000, policy(), policy(ppm=10)),
                ("D", "Y", 10_000_000, policy(), policy(ppm=100)),
            ]
        )
    )
    finder, n = finder_for(network, "B")
    assert finder.route(n["A"], n["D"], BUCKET) == [n["A"], n["B"], n["X"], n["D"]]
    avoid = {network.pair_id(n["X"], n["D"])}
    assert finder.route(n["A"], n["D"], BUCKET, avoid) == [n["A"], n["C"], n["Y"], n["D"]]
    assert (finder.detours, finder.slow_searches) == (0, 1)


def route_cost(finder: RouteFinder, route: list[int]) -> float:
    costs = finder._focal_bucket(BUCKET).pair_costs
    return sum(float(costs[finder.network.pair_id(a, b)]) for a, b in itertools.pairwise(route))


def test_detours_avoid_every_failed_channel_and_are_never_cheaper_than_the_exact_route(small_graph, hub):
    network = seeded_network(small_graph, SimulationConfig(seed=3))
    finder, _ = finder_for(network, small_graph.aliases[hub])
    rng = np.random.default_rng(5)
    exact = 0
    for _ in range(200):
        sender, receiver = (int(x) for x in rng.choice(small_graph.node_count, size=2, replace=False))
        first = finder.route(sender, receiver, BUCKET)
        if first is None or len(first) < 3:
            continue
        hop = int(rng.integers(1, len(first) - 1))
        avoid = {network.pair_id(first[hop], first[hop + 1])}
        detours = finder.detours
        found = finder.route(sender, receiver, BUCKET, avoid)
        if found is None or finder.detours == detours:
            continue
        assert not {network.pair_id(a, b) for a, b in itertools.pairwise(found)} & avoid
        assert len(set(found)) == len(found)
        matrix = finder._focal_bucket(BUCKET).costs.without(avoid)
        best = float(shortest_tree(matrix, receiver)[0][sender])
        assert route_cost(finder, found) >= best - 1e-6
        exact += route_cost(finder, found) <= best + 1e-6
    assert finder.detours > 50
    assert exact >= 0.8 * finder.detours  # a detour is most often the exact next-best route
