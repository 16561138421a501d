"""`static`: the snapshot's fees, never changed (the baseline every other strategy is measured against)."""

from __future__ import annotations

from app.domain.policy import ChannelPolicy
from app.simulation.strategies.base import FeeStrategy, StrategyView


class StaticFees(FeeStrategy):
    """Keeps every policy as the node announced it in the snapshot."""

    name = "static"

    def decide(self, view: StrategyView) -> dict[int, ChannelPolicy]:
        """Nothing changes."""
        return {}
