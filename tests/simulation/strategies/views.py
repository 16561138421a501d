"""A one-channel focal node view for the strategy worked examples."""

from __future__ import annotations

from app.domain.policy import ChannelPolicy
from app.simulation.focal import FocalChannel, FocalNode, ForwardRecord
from app.simulation.strategies.base import ChannelState, StrategyView
from tests.simulation.graphs import diamond, half_balanced

CAPACITY_SAT = 1_000_000


def channel(index: int = 0) -> FocalChannel:
    return FocalChannel(
        index=index, edge=index, out_half=2 * index, peer=1, chan_id=str((index + 1) << 40),
        channel_point="ab" * 32 + ":0", capacity_sat=CAPACITY_SAT,
    )  # fmt: skip


def state(
    local_ratio: float, ppm: int = 100, base: int = 1000, last_update_s: float | None = None
) -> ChannelState:
    local = int(CAPACITY_SAT * 1000 * local_ratio)
    return ChannelState(
        channel=channel(),
        local_msat=local,
        remote_msat=CAPACITY_SAT * 1000 - local,
        policy=ChannelPolicy(base_fee_msat=base, fee_rate_ppm=ppm),
        last_update_s=last_update_s,
    )


def view(
    states: list[ChannelState], now_s: float = 30 * 86_400.0, forwards: list[ForwardRecord] | None = None
) -> StrategyView:
    node = FocalNode(node=0, pubkey="02" + "00" * 32, alias="focal", channels=[s.channel for s in states])
    node.forwards.extend(forwards or [])
    return StrategyView(now_s=now_s, day=30, node=node, channels=states, network=half_balanced(diamond()))
