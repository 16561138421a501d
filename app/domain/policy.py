"""A channel's routing policy in one direction."""

from __future__ import annotations

from pydantic import Field

from app.domain.base import DomainModel, Msat


class ChannelPolicy(DomainModel):
    """The complete forwarding policy a node announces for one channel."""

    base_fee_msat: Msat = 0
    fee_rate_ppm: int = Field(default=0, ge=0)
    time_lock_delta: int = Field(default=40, ge=0)
    min_htlc_msat: Msat = 1_000
    max_htlc_msat: Msat = 0
    inbound_base_fee_msat: int = 0
    inbound_fee_rate_ppm: int = 0
    disabled: bool = False

    def fee_msat(self, amount_msat: int) -> int:
        """Outbound fee charged for forwarding `amount_msat` (integer msat, as LND rounds down)."""
        return self.base_fee_msat + amount_msat * self.fee_rate_ppm // 1_000_000

    def changed_fields(self, other: ChannelPolicy) -> list[str]:
        """Names of the fields whose value differs in `other`."""
        mine, theirs = self.model_dump(), other.model_dump()
        return [name for name in mine if mine[name] != theirs[name]]
