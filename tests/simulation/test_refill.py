"""Liquidity refill: other nodes' channels drift back toward their prior split; the focal node's never move."""

from __future__ import annotations

import numpy as np

from app.simulation.config import SimulationConfig
from app.simulation.refill import LiquidityRefill
from app.simulation.simulator import seeded_network


def test_a_half_life_halves_the_distance_to_the_prior_and_conserves_every_channel(small_graph, hub):
    network = seeded_network(small_graph, SimulationConfig(seed=2))
    prior = list(network.local_msat)
    refill = LiquidityRefill(network, hub, half_life_s=3_600)
    focal_halves = {d for d in network.dirs_from(hub)} | {d ^ 1 for d in network.dirs_from(hub)}
    drained = [0 if d % 2 == 0 else network.capacity_sat[d] * 1000 for d in range(len(prior))]
    network.local_msat[:] = drained  # every channel pushed to node2's side
    refill.step(3_600)
    local = network.local_msat
    for d in range(0, len(local), 2):
        assert local[d] + local[d + 1] == network.capacity_sat[d] * 1000
        if d in focal_halves:
            assert local[d] == drained[d]
        else:
            assert abs(local[d] - prior[d] / 2) <= 1  # half-way back from 0 to its prior
    assert len(focal_halves) > 0


def test_no_half_life_means_no_refill(small_graph, hub):
    network = seeded_network(small_graph, SimulationConfig(seed=2))
    network.local_msat[0] += 1
    network.local_msat[1] -= 1
    before = list(network.local_msat)
    LiquidityRefill(network, hub, half_life_s=0).step(86_400)
    assert network.local_msat == before
    assert np.isfinite(sum(before))
