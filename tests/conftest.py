"""Shared fixtures: the real public graph snapshot (skipped when absent) and its centrality."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.graph.centrality import CentralityScores, compute_centrality
from app.graph.loader import load_graph
from app.graph.model import ChannelGraph
from app.graph.synthetic import generate_graph
from app.sandbox.state import SandboxState, generate_sandbox_state
from app.settings import DEFAULT_GRAPH_FILE

REAL_GRAPH_FILE: Path = DEFAULT_GRAPH_FILE
SKIP_REASON = f"public graph snapshot not available at {REAL_GRAPH_FILE} (clone without ../shared)"
ACINQ = "03864ef025fde8fb587d989186ce6a4a186895ee44a926bfc370e2c366597a3f8f"
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


@pytest.fixture(scope="session")
def big_source(request: pytest.FixtureRequest) -> tuple[ChannelGraph, SandboxState]:
    """ACINQ on the real snapshot (about 64,000 forwards), or the synthetic ACINQ hub without ../shared."""
    if REAL_GRAPH_FILE.exists():
        graph: ChannelGraph = request.getfixturevalue("real_graph")
        index = graph.find_node(ACINQ)
    else:
        graph = generate_graph()
        index = graph.find_node("ACINQ (synthetic)")
    return graph, generate_sandbox_state(graph, index, seed=42)
