"""The small synthetic hub shared by the simulator and contract tests (import these fixtures to use them)."""

from __future__ import annotations

import pytest

from app.graph.model import ChannelGraph
from app.graph.synthetic import generate_graph
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.state import SandboxState, generate_sandbox_state


@pytest.fixture(scope="session")
def small_graph() -> ChannelGraph:
    """A 300-node synthetic graph; node 0 is its scaled-down ACINQ hub (35 channels)."""
    return generate_graph(seed=3, node_count=300, channel_count=900)


@pytest.fixture(scope="session")
def small_state(small_graph: ChannelGraph) -> SandboxState:
    """The hub's sandbox state (seed 3: four inactive channels, ~1,160 forwards)."""
    return generate_sandbox_state(small_graph, 0, seed=3)


@pytest.fixture
def node(small_state: SandboxState, small_graph: ChannelGraph) -> SimulatedNode:
    """A fresh simulated node (its policies and clock start from the state every test)."""
    return SimulatedNode(small_state, small_graph)
