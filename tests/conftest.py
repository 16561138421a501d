"""Shared fixtures: the real public graph snapshot (skipped when absent) and its centrality."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

from app.graph.centrality import CentralityScores, compute_centrality
from app.graph.loader import load_graph
from app.graph.model import ChannelGraph
from app.graph.synthetic import generate_graph
from app.sandbox.state import SandboxState, generate_sandbox_state
from app.settings import DEFAULT_GRAPH_FILE, DEFAULT_THRESHOLDS_FILE

REAL_GRAPH_FILE: Path = DEFAULT_GRAPH_FILE
SKIP_REASON = f"public graph snapshot not available at {REAL_GRAPH_FILE} (clone without ../shared)"
ACINQ = "03864ef025fde8fb587d989186ce6a4a186895ee44a926bfc370e2c366597a3f8f"
requires_real_graph = pytest.mark.skipif(not REAL_GRAPH_FILE.exists(), reason=SKIP_REASON)


def thresholds_with_max_htlc_rule() -> Path:
    """The shipped thresholds file with the opt-in max HTLC rule on, in a folder removed at exit.

    The execution, rollout and alert tests need channels to write: under the shipped rules the 35-channel
    test hub proposes one or two changes a cycle, too few to walk shadow -> canary -> live, while the max
    HTLC rule proposes about a dozen. A write takes the same path whichever rule proposed it, so the
    services under test (in process and in subprocesses) run with it on. The engine's own tests and the
    README walkthrough (tests/cli/test_demo.py) use the shipped file.
    """
    document = yaml.safe_load(DEFAULT_THRESHOLDS_FILE.read_text())
    document["defaults"]["decisions"]["lower_max_htlc"] = True
    folder = Path(tempfile.mkdtemp(prefix="mcp-test-thresholds-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "decision_thresholds.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


os.environ.setdefault("MCP_THRESHOLDS_FILE", str(thresholds_with_max_htlc_rule()))


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
