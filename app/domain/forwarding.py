"""Forwarding history records."""

from __future__ import annotations

from pydantic import Field

from app.domain.base import ChannelId, DomainModel, Msat


class ForwardingEvent(DomainModel):
    """One settled forward: in through `chan_id_in`, out through `chan_id_out`."""

    timestamp_ns: int = Field(ge=0)
    chan_id_in: ChannelId
    chan_id_out: ChannelId
    amt_in_msat: Msat
    amt_out_msat: Msat
    fee_msat: Msat


class PolicyChange(DomainModel):
    """A past policy update of one of our channels (for cooldowns and stability)."""

    chan_id: ChannelId
    changed_at_s: int = Field(ge=0)
    fee_rate_ppm: int = Field(ge=0)
