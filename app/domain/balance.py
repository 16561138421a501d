"""Balance history: how each channel's local balance moved between two consecutive syncs of a node."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BalanceInterval:
    """The local-balance changes (sat, non-zero only) seen between the syncs at `start_s` and `end_s`.

    A fall is net outflow through the channel (forwards out, own payments, rebalances), a rise net inflow;
    forwards in both directions inside one interval cancel out, so the volume is a lower bound.
    """

    start_s: int
    end_s: int
    moves_sat: Mapping[str, int] = field(default_factory=dict)
