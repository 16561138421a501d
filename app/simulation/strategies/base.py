"""The one interface every fee strategy implements, and the view of the focal node it decides on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.domain.policy import ChannelPolicy
from app.simulation.focal import FocalChannel, FocalNode
from app.simulation.network import SimNetwork

DAY_S = 86_400


@dataclass(frozen=True)
class ChannelState:
    """What the focal node knows about one of its channels right now."""

    channel: FocalChannel
    local_msat: int
    remote_msat: int
    policy: ChannelPolicy
    last_update_s: float | None  # when our policy on it last changed, None when never during the run

    @property
    def local_ratio(self) -> float:
        """Our share of the balance."""
        total = self.local_msat + self.remote_msat
        return self.local_msat / total if total else 0.0


@dataclass(frozen=True)
class StrategyView:
    """Everything a strategy may look at: the node's channels, its history, and the public network."""

    now_s: float
    day: int
    node: FocalNode
    channels: Sequence[ChannelState]
    network: SimNetwork


class FeeStrategy(ABC):
    """Sets the focal node's policies once per simulated day (its own cadence rules inside)."""

    name: str = "strategy"

    @abstractmethod
    def decide(self, view: StrategyView) -> dict[int, ChannelPolicy]:
        """New policies by channel index; channels left out keep theirs."""

    def diagnostics(self) -> dict[str, Any]:
        """What the strategy decided over the run, for the results JSON (empty unless a strategy keeps some)."""
        return {}
