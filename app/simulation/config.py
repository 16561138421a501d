"""Everything one simulation run is parameterised by, with defaults calibrated to public figures."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DemandModel(StrEnum):
    """How payment senders and receivers are drawn."""

    CAPACITY = "capacity"  # SimLN: endpoints weighted by node capacity
    MERCHANT = "merchant"  # Béres et al.: most receivers are a few merchants, senders uniform
    UNIFORM = "uniform"  # CLoTH: uniform senders and receivers


@dataclass(frozen=True)
class SimulationConfig:
    """One run: how long, how busy, which demand, how senders route, and how balances start."""

    days: int = 30
    seed: int = 1
    # Days of routing under the snapshot's fees before the strategy takes over: a real node that switches
    # strategies has a forwarding history, and a strategy that reads one (ours, LNDg) must not take an
    # empty history for a week of idleness. Metrics count from the strategy's first day only.
    warmup_days: int = 7
    # Network-wide payments per second. River reported ~2.5/s across its own traffic (Aug 2023); the default
    # simulates a sample of that so a 30-day run stays quick; revenue scales with it, comparisons do not.
    payments_per_s: float = 0.05
    demand: DemandModel = DemandModel.CAPACITY
    # Lognormal amounts: median 35k sat and sigma 0.75 give a mean of ~46k sat (River: 44.7k sat).
    amount_median_sat: int = 35_000
    amount_sigma: float = 0.75
    amount_max_sat: int = 4_000_000
    merchant_share: float = 0.8  # Béres et al.: 80 % of payments go to merchants
    merchant_count: int = 500  # the largest nodes by capacity stand in for merchants
    # Sender behaviour (LND defaults): attempt cost 100 sat + 1000 ppm, at most this many attempts.
    attempt_cost_sat: int = 100
    attempt_cost_ppm: int = 1_000
    max_attempts: int = 10
    failure_memory_s: int = 3_600  # LND mission control forgets a failure within about an hour
    # Balance prior: Beta(a, b) share on the node1 side; (1, 1) is the uniform prior of Pickhardt-Richter.
    balance_beta: tuple[float, float] = (1.0, 1.0)
    reserve_ratio: float = 0.01  # channel reserve (LND: 1 % of capacity, at least the dust limit)
    # Channels of other nodes drift back toward their seeded split with this half-life (0: never), standing in
    # for opposite-direction traffic and rebalancing the sample does not play (app/simulation/refill.py).
    refill_half_life_s: float = 86_400.0
    sample_every_s: int = 3_600  # how often the focal node's balances are sampled for the depletion shares
    tree_cache_size: int = 3_000  # cached shortest-path trees (one per receiver and amount bucket)
