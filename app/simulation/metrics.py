"""What a run is judged by: the focal node's earnings and liquidity, gossip cost, and network calibration."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.simulation.config import SimulationConfig
from app.simulation.focal import FocalNode
from app.simulation.network import SimNetwork
from app.simulation.payments import PaymentStats

DEPLETED_BELOW = 0.10
FULL_ABOVE = 0.90


class BalanceSampler:
    """Samples the focal node's local ratios at a fixed simulated interval."""

    def __init__(self, network: SimNetwork, focal: FocalNode) -> None:
        self.network = network
        self.halves = [channel.out_half for channel in focal.channels]
        self.capacity_msat = np.asarray(
            [channel.capacity_sat * 1000 for channel in focal.channels], dtype=float
        )
        self.depleted = np.zeros(len(self.halves), dtype=np.int64)
        self.full = np.zeros(len(self.halves), dtype=np.int64)
        self.samples = 0

    def sample(self) -> None:
        """Count which channels are depleted or full right now."""
        local = self.network.local_msat
        ratios = np.asarray([local[h] for h in self.halves], dtype=float) / self.capacity_msat
        self.depleted += ratios < DEPLETED_BELOW
        self.full += ratios > FULL_ABOVE
        self.samples += 1

    def shares(self) -> tuple[float, float]:
        """Mean share of time a channel spent depleted, and full."""
        if not self.samples or not len(self.halves):
            return 0.0, 0.0
        return float(self.depleted.mean() / self.samples), float(self.full.mean() / self.samples)


def top_channels(focal: FocalNode, network: SimNetwork, count: int = 10) -> list[dict[str, Any]]:
    """The channels that earned most (out side), with their forwards and fee rate at the end of the run."""
    revenue: dict[int, int] = {}
    forwards: dict[int, int] = {}
    for forward in focal.counted_forwards:
        revenue[forward.out_channel] = revenue.get(forward.out_channel, 0) + forward.fee_msat
        forwards[forward.out_channel] = forwards.get(forward.out_channel, 0) + 1
    best = sorted(revenue, key=lambda index: -revenue[index])[:count]
    return [
        {
            "chan_id": focal.channels[index].chan_id,
            "peer": network.graph.aliases[focal.channels[index].peer][:32],
            "revenue_msat": revenue[index],
            "forwards": forwards[index],
            "final_fee_ppm": network.fee_rate_ppm[focal.channels[index].out_half],
        }
        for index in best
    ]


def run_metrics(
    config: SimulationConfig,
    focal: FocalNode,
    network: SimNetwork,
    stats: PaymentStats,
    sampler: BalanceSampler,
) -> dict[str, Any]:
    """Every figure of one run, JSON-ready."""
    capacity_sat = sum(channel.capacity_sat for channel in focal.channels)
    years = config.days / 365.0
    revenue_sat = focal.revenue_msat / 1000
    depleted, full = sampler.shares()
    channels = len(focal.channels)
    forward_amounts = [f.amt_out_msat / 1000 for f in focal.counted_forwards]
    fee_ppm = np.asarray(stats.fee_ppm) if stats.fee_ppm else np.zeros(1)
    return {
        "focal": {
            "channels": channels,
            "capacity_sat": capacity_sat,
            "revenue_msat": focal.revenue_msat,
            "forwards": len(focal.counted_forwards),
            "volume_sat": focal.volume_msat // 1000,
            "median_forward_sat": float(np.median(forward_amounts)) if forward_amounts else 0.0,
            "effective_fee_ppm": focal.revenue_msat * 1e6 / focal.volume_msat if focal.volume_msat else 0.0,
            "annualised_return_pct": revenue_sat / capacity_sat / years * 100 if capacity_sat else 0.0,
            "annualised_turnover": focal.volume_msat / 1000 / capacity_sat / years if capacity_sat else 0.0,
            "depleted_share": depleted,
            "full_share": full,
            "policy_updates": len(focal.updates),
            "updates_per_channel_day": len(focal.updates) / max(channels, 1) / config.days,
            "failed_forwards": focal.counted_failures,
            "top_channels": top_channels(focal, network),
        },
        "network": {
            "payments": stats.payments,
            "succeeded": stats.succeeded,
            "success_rate": stats.succeeded / stats.payments if stats.payments else 0.0,
            "attempts": stats.attempts,
            "attempts_per_payment": stats.attempts / stats.payments if stats.payments else 0.0,
            "route_searches": stats.searches,
            "mean_amount_sat": stats.amount_msat / 1000 / stats.succeeded if stats.succeeded else 0.0,
            "median_fee_ppm": float(np.median(fee_ppm)),
            "mean_fee_ppm": stats.fee_msat * 1e6 / stats.amount_msat if stats.amount_msat else 0.0,
            "failures": dict(stats.failures),
            "hop_failures": dict(stats.hop_failures),
        },
    }
