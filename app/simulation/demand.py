"""Payment demand: Poisson arrivals, endpoints by a chosen model, lognormal amounts; one seeded stream per run.

The stream depends only on the seed and the day, never on what the network did, so every strategy run
with the same seed sees exactly the same payments (common random numbers make comparisons sharper).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.simulation.config import DemandModel, SimulationConfig
from app.simulation.network import SimNetwork

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
DAY_S = 86_400


@dataclass(frozen=True)
class DayOfPayments:
    """One simulated day's payments in arrival order."""

    times_s: FloatArray  # seconds since the day started
    senders: IntArray
    receivers: IntArray
    amounts_msat: IntArray


class Demand:
    """Draws each day's payments for a network; the focal node neither pays nor is paid (it only routes)."""

    def __init__(self, network: SimNetwork, focal: int, config: SimulationConfig) -> None:
        self.config = config
        can_send = np.zeros(network.node_count, dtype=bool)
        can_receive = np.zeros(network.node_count, dtype=bool)
        enabled = np.asarray(network.enabled, dtype=bool)
        can_send[network.dir_from[enabled]] = True
        can_receive[network.dir_to[enabled]] = True
        # A node without an enabled channel out (or in) could never pay (or be paid): it is offline.
        endpoints = can_send & can_receive
        endpoints[focal] = False
        nodes = np.flatnonzero(endpoints)
        capacity = network.graph.node_capacity_sat[nodes].astype(np.float64)
        self.nodes = nodes
        if config.demand is DemandModel.CAPACITY:
            self.sender_weights = capacity / capacity.sum()
            self.receiver_weights = self.sender_weights
        elif config.demand is DemandModel.UNIFORM:
            self.sender_weights = np.full(len(nodes), 1.0 / len(nodes))
            self.receiver_weights = self.sender_weights
        else:
            merchants = np.argsort(-capacity, kind="stable")[: config.merchant_count]
            weights = np.full(len(nodes), (1.0 - config.merchant_share) / len(nodes))
            weights[merchants] += config.merchant_share / len(merchants)
            self.sender_weights = np.full(len(nodes), 1.0 / len(nodes))
            self.receiver_weights = weights / weights.sum()

    def day(self, day: int) -> DayOfPayments:
        """The payments of one day (deterministic for the run's seed and the day number)."""
        config = self.config
        rng = np.random.default_rng([config.seed, 7_919, day])
        count = int(rng.poisson(config.payments_per_s * DAY_S))
        times = np.sort(rng.uniform(0.0, DAY_S, size=count))
        senders = rng.choice(len(self.nodes), size=count, p=self.sender_weights)
        receivers = rng.choice(len(self.nodes), size=count, p=self.receiver_weights)
        same = senders == receivers
        while same.any():  # nobody pays themselves: redraw those receivers
            receivers[same] = rng.choice(len(self.nodes), size=int(same.sum()), p=self.receiver_weights)
            same = senders == receivers
        amounts_sat = rng.lognormal(np.log(config.amount_median_sat), config.amount_sigma, size=count)
        amounts_sat = np.clip(amounts_sat, 1.0, config.amount_max_sat)
        return DayOfPayments(
            times_s=times,
            senders=self.nodes[senders],
            receivers=self.nodes[receivers],
            amounts_msat=np.round(amounts_sat * 1000).astype(np.int64),
        )
