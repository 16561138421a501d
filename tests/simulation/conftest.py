"""A small synthetic graph for whole-run simulator tests (fast, and no ../shared needed)."""

from __future__ import annotations

import pytest

from app.graph.centrality import CentralityScores, compute_centrality
from app.graph.model import ChannelGraph
from app.graph.synthetic import generate_graph


@pytest.fixture(scope="session")
def small_graph() -> ChannelGraph:
    """A 400-node synthetic graph with the snapshot's shape."""
    return generate_graph(seed=11, node_count=400, channel_count=1_600)


@pytest.fixture(scope="session")
def small_centrality(small_graph: ChannelGraph) -> CentralityScores:
    """Centrality of the small graph."""
    return compute_centrality(small_graph)


@pytest.fixture(scope="session")
def hub(small_graph: ChannelGraph) -> int:
    """The small graph's best-connected node."""
    return int(small_graph.degrees.argmax())
