"""Centrality of every node: sampled betweenness, harmonic closeness, degree and PageRank.

NetworKit does the heavy lifting (C++, parallel); networkx is far too slow at 17k nodes and stays only as the
reference in tests. Harmonic closeness is estimated from BFS pivots with SciPy because NetworKit only offers it
exactly (16 s on the full graph here) or for connected graphs (ApproxCloseness), and the channel graph has
hundreds of small components.

NetworKit and SciPy are imported where they compute: together they take about half a second to import, which
a command reading centrality from the cache (app/graph/cache.py) never needs to pay.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from app.graph.model import ChannelGraph, IntArray
from app.observability.metrics import CENTRALITY_SECONDS

if TYPE_CHECKING:
    import networkit as nk

    from app.settings import Settings

FloatArray = npt.NDArray[np.float64]
METRICS = ("betweenness", "harmonic", "degree", "pagerank")


class CentralityMode(StrEnum):
    """Exact algorithms (small graphs, reference) or sampled estimates (the real graph)."""

    ESTIMATE = "estimate"
    EXACT = "exact"


@dataclass(frozen=True)
class CentralityScores:
    """Per-node centrality, indexed like the graph's nodes, normalised as networkx does."""

    betweenness: FloatArray
    harmonic: FloatArray
    degree: FloatArray
    pagerank: FloatArray
    mode: CentralityMode
    betweenness_samples: int
    closeness_samples: int
    seed: int
    seconds: float
    _percentiles: dict[str, FloatArray] = field(default_factory=dict, repr=False)
    _percentile_lists: dict[str, list[float]] = field(default_factory=dict, repr=False)

    def percentile(self, metric: str) -> FloatArray:
        """Percentile rank in [0, 1] of every node for a metric (ties share their average rank)."""
        if metric not in METRICS:
            raise ValueError(f"unknown centrality metric {metric!r}; expected one of {METRICS}")
        if metric not in self._percentiles:
            values: FloatArray = getattr(self, metric)
            self._percentiles[metric] = (average_ranks(values) - 1.0) / max(len(values) - 1, 1)
        return self._percentiles[metric]

    def percentile_list(self, metric: str) -> list[float]:
        """`percentile(metric)` as Python floats: indexing a list is several times cheaper per channel."""
        if metric not in self._percentile_lists:
            self._percentile_lists[metric] = self.percentile(metric).tolist()
        return self._percentile_lists[metric]


def average_ranks(values: FloatArray) -> FloatArray:
    """1-based ranks with ties sharing their average rank, like scipy.stats.rankdata(method="average").

    Written here because importing scipy.stats costs half a second of every CLI start-up.
    """
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]]))
    ends = np.concatenate([starts[1:], [len(values)]])
    group_ranks = (starts + ends + 1) / 2.0  # mean of the 1-based ranks starts+1 .. ends
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat(group_ranks, ends - starts)
    return ranks


def build_networkit_graph(node_count: int, edges: tuple[IntArray, IntArray]) -> nk.Graph:
    """Undirected, unweighted NetworKit graph from `ChannelGraph.simple_edges()`: one edge per node pair."""
    import networkit as nk

    nk_graph = nk.Graph(node_count, weighted=False, directed=False)
    nk_graph.addEdges(edges)
    return nk_graph


def compute_centrality(
    graph: ChannelGraph,
    mode: CentralityMode = CentralityMode.ESTIMATE,
    betweenness_samples: int = 256,
    closeness_samples: int = 128,
    seed: int = 42,
    threads: int = 2,
) -> CentralityScores:
    """Compute every centrality metric; deterministic for a given seed and thread count."""
    import networkit as nk

    started = time.perf_counter()
    nk.setNumberOfThreads(threads)
    nk.engineering.setSeed(seed, False)
    count = graph.node_count
    # simple_edges sorts every channel; compute it once for NetworKit and the harmonic estimate
    edges = graph.simple_edges()
    nk_graph = build_networkit_graph(count, edges)
    if mode is CentralityMode.EXACT:
        betweenness = _run(nk.centrality.Betweenness(nk_graph, normalized=True))
        harmonic = _run(nk.centrality.HarmonicCloseness(nk_graph, normalized=True))
    else:
        betweenness = _run(nk.centrality.EstimateBetweenness(nk_graph, betweenness_samples, True, True))
        harmonic = _estimate_harmonic(count, edges, closeness_samples, seed)
    degree = np.asarray([nk_graph.degree(node) for node in range(count)], dtype=np.float64) / max(
        count - 1, 1
    )
    pagerank = _run(nk.centrality.PageRank(nk_graph, damp=0.85, tol=1e-9))
    pagerank = pagerank / pagerank.sum() if pagerank.sum() > 0 else pagerank
    seconds = time.perf_counter() - started
    CENTRALITY_SECONDS.observe(seconds)
    return CentralityScores(
        betweenness=betweenness,
        harmonic=harmonic,
        degree=degree,
        pagerank=pagerank,
        mode=mode,
        betweenness_samples=0 if mode is CentralityMode.EXACT else betweenness_samples,
        closeness_samples=0 if mode is CentralityMode.EXACT else closeness_samples,
        seed=seed,
        seconds=seconds,
    )


def centrality_for(graph: ChannelGraph, settings: Settings) -> CentralityScores:
    """Sampled centrality with the configured pivots, seed and threads."""
    return compute_centrality(
        graph,
        betweenness_samples=settings.centrality_samples,
        closeness_samples=settings.closeness_samples,
        seed=settings.centrality_seed,
        threads=settings.worker_threads,
    )


def _run(algorithm: nk.base.Algorithm) -> FloatArray:
    algorithm.run()
    return np.asarray(algorithm.scores(), dtype=np.float64)


def _estimate_harmonic(count: int, edges: tuple[IntArray, IntArray], samples: int, seed: int) -> FloatArray:
    """Unbiased pivot estimate of harmonic closeness, normalised by n-1.

    For a uniform sample S of k pivots, E[sum over s in S of 1/d(s, v)] = (k/n) * H(v) in an undirected graph.
    """
    import scipy.sparse as sp
    from scipy.sparse import csgraph

    if count < 2:
        return np.zeros(count)
    samples = min(samples, count)
    pivots = np.random.default_rng(seed).choice(count, size=samples, replace=False)
    low, high = edges
    ones = np.ones(len(low), dtype=np.int8)
    adjacency = sp.coo_matrix((ones, (low, high)), shape=(count, count)).tocsr()
    distances = csgraph.shortest_path(adjacency, method="D", directed=False, unweighted=True, indices=pivots)
    with np.errstate(divide="ignore"):
        inverse = np.where(np.isfinite(distances) & (distances > 0), 1.0 / distances, 0.0)
    result: FloatArray = inverse.sum(axis=0) * (count / samples) / (count - 1)
    return result
