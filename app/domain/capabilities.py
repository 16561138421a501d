"""What a node backend can report and change, and the one mapping from capabilities to writable fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.domain.base import DomainModel

if TYPE_CHECKING:
    from app.domain.policy import ChannelPolicy

FEE_FIELDS = ("base_fee_msat", "fee_rate_ppm")
TIME_LOCK_FIELDS = ("time_lock_delta",)
HTLC_FIELDS = ("min_htlc_msat", "max_htlc_msat")
INBOUND_FIELDS = ("inbound_base_fee_msat", "inbound_fee_rate_ppm")


class NodeCapabilities(DomainModel):
    """Capability flags, so callers ask instead of assuming (LNbits lacks most of these)."""

    forwarding_history: bool = True
    channel_graph: bool = True
    inbound_fees: bool = True
    htlc_limits: bool = True
    time_lock: bool = True

    def writable_fields(self) -> tuple[str, ...]:
        """Policy fields this backend can set: the gate, the executor and the read-back all use this one list."""
        fields = list(FEE_FIELDS)
        if self.time_lock:
            fields += TIME_LOCK_FIELDS
        if self.htlc_limits:
            fields += HTLC_FIELDS
        if self.inbound_fees:
            fields += INBOUND_FIELDS
        return tuple(fields)

    def policy_matches(self, observed: ChannelPolicy, target: ChannelPolicy) -> bool:
        """Whether every writable field of a read-back equals the target."""
        return all(getattr(observed, name) == getattr(target, name) for name in self.writable_fields())


LND_CAPABILITIES = NodeCapabilities()
