"""What a node reported in one cycle, as the engine consumes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.domain.balance import BalanceInterval
from app.domain.capabilities import NodeCapabilities
from app.domain.channel import Channel
from app.domain.forwarding import ForwardingEvent, PolicyChange
from app.domain.node import NodeInfo


@dataclass(frozen=True)
class NodeSnapshot:
    """One cycle's view of a node; `None` marks data its backend cannot provide.

    A plain frozen dataclass: its parts are already-validated domain models, and re-validating tens of
    thousands of forwarding events every cycle would buy nothing.
    """

    node: NodeInfo
    channels: Sequence[Channel]
    now_s: int
    # The daily cap limits the optimizer's own blast radius, so it counts only the updates the optimizer
    # applied (from its journal); an operator's manual changes still start each channel's cooldown.
    # Required, so that no caller can switch the cap off by forgetting it.
    optimizer_updates_last_24h: int
    # None: the policy history is unknown, and every write is refused until it is known (no cooldown proof).
    policy_changes: Sequence[PolicyChange] | None
    capabilities: NodeCapabilities = field(default_factory=NodeCapabilities)
    forwards: Sequence[ForwardingEvent] | None = None
    # Balance moves between past syncs, oldest first: the flow evidence of a backend without forwards.
    balance_history: Sequence[BalanceInterval] | None = None
    # chan_id -> when its policy was last changed outside the service (such channels are left alone a while).
    external_changes: Mapping[str, int] = field(default_factory=dict)
