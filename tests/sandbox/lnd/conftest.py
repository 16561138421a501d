"""Fixtures for the LND simulator tests: the small synthetic hub (from hub.py) and a running server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator
from tests.sandbox.lnd.hub import node, small_graph, small_state

__all__ = ["node", "sim", "small_graph", "small_state"]  # imported fixtures are registered by their names


@pytest.fixture
async def sim(node: SimulatedNode) -> AsyncIterator[SimulatorHandle]:
    """The simulator over plain HTTP on a free port."""
    async with running_simulator(node) as handle:
        yield handle
