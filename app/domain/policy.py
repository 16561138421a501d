"""A channel's routing policy in one direction."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from app.domain.base import DomainModel, Msat

# Fields a backend may not report at all (None in ChannelPolicy); LND needs every one to write a policy.
UNKNOWABLE_FIELDS = (
    "time_lock_delta",
    "min_htlc_msat",
    "max_htlc_msat",
    "inbound_base_fee_msat",
    "inbound_fee_rate_ppm",
)


class PolicySource(StrEnum):
    """Where a policy history entry comes from."""

    OBSERVED = "observed"  # first seen on the node (the baseline a later change is compared with)
    SHADOW = "shadow"  # what shadow mode would have written
    APPLIED = "applied"  # written by the service and proven by read-back (rollbacks included)
    MANUAL = "manual"  # written by an operator through the API
    EXTERNAL = "external"  # changed on the node by someone else: respected, never fought


class ChannelPolicy(DomainModel):
    """The forwarding policy a node announces for one channel.

    Fees are always known. The other fields are None when the backend does not report them (LNbits
    shows only fees): unknown is kept unknown rather than filled with a guess.
    """

    base_fee_msat: Msat = 0
    fee_rate_ppm: int = Field(default=0, ge=0)
    time_lock_delta: int | None = Field(default=40, ge=0)
    min_htlc_msat: int | None = Field(default=1_000, ge=0)
    max_htlc_msat: int | None = Field(default=0, ge=0)
    inbound_base_fee_msat: int | None = 0
    inbound_fee_rate_ppm: int | None = 0
    disabled: bool = False

    @property
    def is_complete(self) -> bool:
        """Every field is known (required to send an LND policy update)."""
        return all(getattr(self, name) is not None for name in UNKNOWABLE_FIELDS)

    def fee_msat(self, amount_msat: int) -> int:
        """Outbound fee charged for forwarding `amount_msat` (integer msat, as LND rounds down)."""
        return self.base_fee_msat + amount_msat * self.fee_rate_ppm // 1_000_000

    def changed_fields(self, other: ChannelPolicy) -> list[str]:
        """Names of the fields whose value differs in `other`."""
        mine, theirs = self.model_dump(), other.model_dump()
        return [name for name in mine if mine[name] != theirs[name]]


class PolicyReading(DomainModel):
    """A channel's policy as just read from its node, with the node's own time of its last change."""

    policy: ChannelPolicy
    updated_s: int | None = Field(default=None, ge=0, description="gossip last_update, unix seconds")
