"""Centrality: exact mode equals networkx; the sampled estimate ranks like networkx's exact betweenness."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import networkx as nx
import numpy as np
import pytest
from scipy.stats import spearmanr

from app.graph.centrality import CentralityMode, compute_centrality
from app.graph.loader import parse_graph
from app.graph.model import ChannelGraph
from tests.factories import pubkey


def graph_from_networkx(nx_graph: nx.Graph) -> tuple[ChannelGraph, list[int]]:
    """Our graph from a networkx graph, and the node order mapping our indices back."""
    nodes = sorted(nx_graph.nodes())
    document = {
        "nodes": [{"pub_key": pubkey(str(n)), "alias": str(n)} for n in nodes],
        "edges": [
            {
                "channel_id": str(i),
                "node1_pub": pubkey(str(a)),
                "node2_pub": pubkey(str(b)),
                "capacity": "1000",
            }
            for i, (a, b) in enumerate(nx_graph.edges())
        ],
    }
    graph = parse_graph(document)
    return graph, [graph.index[pubkey(str(n))] for n in nodes]


@pytest.mark.parametrize(
    "nx_graph",
    [
        nx.connected_watts_strogatz_graph(80, 4, 0.3, seed=1),
        nx.barabasi_albert_graph(120, 2, seed=3),
        nx.disjoint_union(nx.path_graph(7), nx.star_graph(5)),  # two components
    ],
    ids=["small-world", "scale-free", "disconnected"],
)
def test_exact_mode_equals_networkx(nx_graph):
    graph, order = graph_from_networkx(nx_graph)
    scores = compute_centrality(graph, mode=CentralityMode.EXACT)
    nodes = sorted(nx_graph.nodes())
    n = len(nodes)
    expected_bw = nx.betweenness_centrality(nx_graph)
    expected_h = nx.harmonic_centrality(nx_graph)
    expected_pr = nx.pagerank(nx_graph, tol=1e-10, max_iter=10_000)
    expected_deg = nx.degree_centrality(nx_graph)
    np.testing.assert_allclose(scores.betweenness[order], [expected_bw[v] for v in nodes], atol=1e-12)
    np.testing.assert_allclose(scores.harmonic[order], [expected_h[v] / (n - 1) for v in nodes], atol=1e-12)
    np.testing.assert_allclose(scores.degree[order], [expected_deg[v] for v in nodes], atol=1e-12)
    np.testing.assert_allclose(scores.pagerank[order], [expected_pr[v] for v in nodes], atol=1e-6)


def test_estimate_is_deterministic_for_a_seed():
    graph, _ = graph_from_networkx(nx.barabasi_albert_graph(400, 2, seed=5))
    first = compute_centrality(graph, betweenness_samples=64, closeness_samples=32, seed=9)
    second = compute_centrality(graph, betweenness_samples=64, closeness_samples=32, seed=9)
    other = compute_centrality(graph, betweenness_samples=64, closeness_samples=32, seed=10)
    assert np.array_equal(first.betweenness, second.betweenness)
    assert np.array_equal(first.harmonic, second.harmonic)
    assert not np.array_equal(first.harmonic, other.harmonic)


def test_percentiles_are_ranks_in_unit_interval():
    graph, order = graph_from_networkx(nx.path_graph(5))
    scores = compute_centrality(graph, mode=CentralityMode.EXACT)
    percentile = scores.percentile("betweenness")[order]
    # path 0-1-2-3-4: ends tie lowest, centre highest
    assert percentile.tolist() == [0.125, 0.625, 1.0, 0.625, 0.125]
    with pytest.raises(ValueError, match="unknown centrality metric"):
        scores.percentile("eigenvector")


def two_thousand_node_subgraph(real_graph: ChannelGraph) -> nx.Graph:
    """A connected ~2,000-node piece of the snapshot: breadth-first ball around a mid-sized node."""
    low, high = real_graph.simple_edges()
    full = nx.Graph()
    full.add_edges_from(zip(low.tolist(), high.tolist(), strict=True))
    degrees = dict(full.degree())
    start = sorted(degrees, key=lambda v: (degrees[v], v))[-500]
    order = [start]
    seen = {start}
    cursor = 0
    while len(order) < 2_000:
        for neighbour in sorted(full.neighbors(order[cursor])):
            if neighbour not in seen and len(order) < 2_000:
                seen.add(neighbour)
                order.append(neighbour)
        cursor += 1
    return full.subgraph(order).copy()


def test_sampled_betweenness_ranks_like_exact_networkx_on_real_subgraph(real_graph):
    sub = two_thousand_node_subgraph(real_graph)
    assert nx.is_connected(sub)
    assert sub.number_of_nodes() == 2_000
    graph, order = graph_from_networkx(sub)
    estimate = compute_centrality(graph, betweenness_samples=256, closeness_samples=128)
    nodes = sorted(sub.nodes())
    exact_bw = nx.betweenness_centrality(sub)
    exact_h = nx.harmonic_centrality(sub)
    bw_rho = spearmanr([exact_bw[v] for v in nodes], estimate.betweenness[order]).statistic
    h_rho = spearmanr([exact_h[v] for v in nodes], estimate.harmonic[order]).statistic
    assert bw_rho >= 0.9, f"betweenness Spearman {bw_rho:.3f}"
    assert h_rho >= 0.95, f"harmonic closeness Spearman {h_rho:.3f}"


def test_full_snapshot_centrality_covers_every_node(real_graph, real_centrality):
    assert len(real_centrality.betweenness) == real_graph.node_count
    acinq = real_graph.find_node("ACINQ")
    assert real_centrality.percentile("betweenness")[acinq] > 0.999
    assert real_centrality.pagerank.sum() == pytest.approx(1.0)
    leaves = real_graph.degrees == 1
    assert np.all(real_centrality.betweenness[leaves] == 0)


@pytest.mark.parametrize("mode", [CentralityMode.EXACT, CentralityMode.ESTIMATE])
async def test_async_computation_keeps_the_event_loop_responsive(mode):
    graph, _ = graph_from_networkx(nx.barabasi_albert_graph(3_000, 3, seed=2))
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(pool, int)  # start the worker before measuring
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    started = time.perf_counter()
    # the same hand-off GraphCache.get makes: the computation in a worker process, awaited from the loop
    scores = await loop.run_in_executor(pool, partial(compute_centrality, graph, mode=mode))
    elapsed = time.perf_counter() - started
    beat.cancel()
    pool.shutdown()
    assert len(scores.betweenness) == 3_000
    # the loop kept ticking while the worker computed (at least half of the possible ticks)
    assert ticks >= elapsed / 0.005 / 2, (ticks, elapsed)


def test_average_ranks_match_scipy():
    from scipy.stats import rankdata

    from app.graph.centrality import average_ranks

    rng = np.random.default_rng(4)
    values = rng.integers(0, 20, size=500).astype(float)
    np.testing.assert_array_equal(average_ranks(values), rankdata(values, method="average"))
    assert average_ranks(np.array([])).tolist() == []
