"""Liquidity refill: channels of other nodes drift back toward their starting split between payments.

The simulation plays a sample of the network's payments and no rebalancing, so without this every popular
channel drains one way and stays drained, and success falls day by day (94 % by day 3 in the first runs),
which the real network does not show. Real channels are refilled by traffic in the opposite direction and by
their owners' rebalancing; both stand in here as a mean reversion with a configurable half-life: after t
seconds a channel keeps 0.5 ** (t / half_life) of its distance from its seeded prior split. The focal node's
channels are left alone: how its balances move under a fee strategy is part of what is measured.
"""

from __future__ import annotations

import numpy as np

from app.simulation.network import SimNetwork


class LiquidityRefill:
    """Mean reversion of every channel not touching the focal node toward its initial (prior) split."""

    def __init__(self, network: SimNetwork, focal: int, half_life_s: float) -> None:
        graph = network.graph
        self.network = network
        self.half_life_s = half_life_s
        edges = np.flatnonzero((graph.node1 != focal) & (graph.node2 != focal))
        self.node1_half = 2 * edges
        self.target_msat = np.asarray(network.local_msat, dtype=np.int64)[self.node1_half]
        self.capacity_msat = graph.capacity_sat[edges].astype(np.int64) * 1000

    def step(self, elapsed_s: float) -> None:
        """Let `elapsed_s` of refill happen (balances are conserved per channel)."""
        if self.half_life_s <= 0 or elapsed_s <= 0:
            return
        keep = 0.5 ** (elapsed_s / self.half_life_s)
        local = np.asarray(self.network.local_msat, dtype=np.int64)
        node1 = local[self.node1_half]
        moved = np.rint(self.target_msat + (node1 - self.target_msat) * keep).astype(np.int64)
        local[self.node1_half] = moved
        local[self.node1_half + 1] = self.capacity_msat - moved
        self.network.local_msat[:] = local.tolist()  # in place: the payment sender holds this list
