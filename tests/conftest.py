"""Shared fixtures: the real public graph snapshot (skipped when absent) and its centrality."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.graph.centrality import CentralityScores, compute_centrality
from app.graph.loader import load_graph
from app.graph.model import ChannelGraph
from app.settings import DEFAULT_GRAPH_FILE

REAL_GRAPH_FILE: Path = DEFAULT_GRAPH_FILE
SKIP_REASON = f"public graph snapshot not available at {REAL_GRAPH_FILE} (clone without ../shared)"
requires_real_graph = pytest.mark.skipif(not REAL_GRAPH_FILE.exists(), reason=SKIP_REASON)


@pytest.fixture(scope="session")
def real_graph() -> ChannelGraph:
    """The 17,324-node public snapshot, loaded once per test session."""
    if not REAL_GRAPH_FILE.exists():
        pytest.skip(SKIP_REASON)
    return load_graph(REAL_GRAPH_FILE)


@pytest.fixture(scope="session")
def real_centrality(real_graph: ChannelGraph) -> CentralityScores:
    """Sampled centrality of the public snapshot with the default seed."""
    return compute_centrality(real_graph)
