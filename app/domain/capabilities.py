"""What a node backend can report and change."""

from __future__ import annotations

from app.domain.base import DomainModel


class NodeCapabilities(DomainModel):
    """Capability flags, so callers ask instead of assuming (LNbits lacks most of these)."""

    forwarding_history: bool = True
    channel_graph: bool = True
    inbound_fees: bool = True
    htlc_limits: bool = True
    time_lock: bool = True


LND_CAPABILITIES = NodeCapabilities()
