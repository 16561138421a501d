"""What a sender minimises per channel: the fee plus a penalty for the chance the channel cannot carry the amount.

Follows LND's probability-aware pathfinding (routing/pathfind.go: an attempt cost of 100 sat + 1000 ppm
weighs the failure risk) with the a-priori uniform-balance model of Pickhardt and Richter: a channel of
capacity c carries a sat with probability (c + 1 - a) / (c + 1). The risk is made additive as
attempt cost x -ln(probability), so a shortest-path search can minimise it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.simulation.network import SimNetwork

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MIN_BUCKET = 10  # amounts below 2^10 sat share the smallest bucket


def bucket_of(amount_msat: int) -> int:
    """Amount bucket: floor(log2(amount in sat)), at least MIN_BUCKET; routes are cached per bucket."""
    return max(MIN_BUCKET, (amount_msat // 1000).bit_length() - 1)


def bucket_amount_msat(bucket: int) -> int:
    """The amount a bucket's costs are computed at: its geometric middle."""
    return int(2 ** (bucket + 0.5) * 1000)


def bucket_ceiling_msat(bucket: int) -> int:
    """The largest amount of a bucket: a channel must be able to carry it to be used for the bucket."""
    return int(2 ** (bucket + 1)) * 1000


@dataclass(frozen=True)
class CostModel:
    """Sender cost parameters (LND defaults)."""

    attempt_cost_sat: int = 100
    attempt_cost_ppm: int = 1_000

    def weights(self, network: SimNetwork, dirs: IntArray, bucket: int) -> FloatArray:
        """Cost in msat of sending the bucket's amount over each channel half; inf where it cannot be used."""
        amount = bucket_amount_msat(bucket)
        ceiling = bucket_ceiling_msat(bucket)
        base = np.asarray([network.base_fee_msat[d] for d in dirs.tolist()], dtype=np.float64)
        ppm = np.asarray([network.fee_rate_ppm[d] for d in dirs.tolist()], dtype=np.float64)
        min_htlc = np.asarray([network.min_htlc_msat[d] for d in dirs.tolist()], dtype=np.float64)
        max_htlc = np.asarray([network.max_htlc_msat[d] for d in dirs.tolist()], dtype=np.float64)
        enabled = np.asarray([network.enabled[d] for d in dirs.tolist()], dtype=bool)
        capacity_sat = network.capacity_sat[dirs].astype(np.float64)
        fee = base + ppm * amount / 1e6
        amount_sat = amount / 1000
        with np.errstate(invalid="ignore", divide="ignore"):
            risk = -np.log1p(-np.minimum(amount_sat / (capacity_sat + 1), 1.0))
        attempt_msat = self.attempt_cost_sat * 1000 + self.attempt_cost_ppm * amount / 1e6
        usable = enabled & (max_htlc >= ceiling) & (min_htlc <= amount) & (capacity_sat * 1000 > ceiling)
        return np.where(usable, fee + attempt_msat * risk, np.inf)
