"""A channel of our node, with balances and our own policy merged in."""

from __future__ import annotations

from pydantic import Field, computed_field, model_validator

from app.domain.base import ChannelId, DomainModel, PubKey, Sat
from app.domain.policy import ChannelPolicy

SCID_BLOCK_SHIFT = 40


def scid_block_height(chan_id: str) -> int:
    """Funding block height encoded in a short channel id (upper 24 bits)."""
    return int(chan_id) >> SCID_BLOCK_SHIFT


BLOCKS_PER_DAY = 144


def channel_age_days(chan_id: str, block_height: int | None) -> float | None:
    """Days since the funding block, from the chain tip height (None when the height is unknown)."""
    if not block_height:
        return None
    return max(0, block_height - scid_block_height(chan_id)) / BLOCKS_PER_DAY


def scid_to_string(chan_id: str) -> str:
    """Render a short channel id as `block x tx x output`."""
    value = int(chan_id)
    return f"{scid_block_height(chan_id)}x{(value >> 16) & 0xFFFFFF}x{value & 0xFFFF}"


class ChannelRef(DomainModel):
    """Just enough to address one channel on its node: its short id and its funding outpoint."""

    chan_id: ChannelId
    channel_point: str = Field(pattern=r"^[0-9a-f]{64}:[0-9]+$")

    @property
    def funding_txid(self) -> str:
        """Funding transaction id (hex, as LND displays it)."""
        return self.channel_point.split(":", 1)[0]

    @property
    def output_index(self) -> int:
        """Funding output index."""
        return int(self.channel_point.split(":", 1)[1])


class Channel(ChannelRef):
    """One of our channels: capacity, balances, liveness and the policies in both directions."""

    remote_pubkey: PubKey
    capacity_sat: Sat
    local_balance_sat: Sat
    remote_balance_sat: Sat
    local_reserve_sat: Sat = 0
    remote_reserve_sat: Sat = 0
    active: bool = True
    private: bool = False
    initiator: bool = False
    uptime_s: int = Field(default=0, ge=0)
    lifetime_s: int = Field(default=0, ge=0)
    total_sent_sat: Sat = 0
    total_received_sat: Sat = 0
    local_policy: ChannelPolicy
    remote_policy: ChannelPolicy | None = None
    # When our policy last changed (gossip `last_update`), or None when the node does not say: the
    # validator needs it to prove a cooldown has passed.
    policy_updated_s: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _balances_fit_capacity(self) -> Channel:
        """Balances cannot exceed the capacity (commit fees and HTLCs in flight make the sum smaller)."""
        if self.local_balance_sat + self.remote_balance_sat > self.capacity_sat:
            raise ValueError("local_balance_sat + remote_balance_sat exceeds capacity_sat")
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def local_ratio(self) -> float:
        """Share of the capacity on our side."""
        return self.local_balance_sat / self.capacity_sat if self.capacity_sat else 0.0

    @property
    def usable_local_sat(self) -> int:
        """Outbound liquidity above our reserve."""
        return max(0, self.local_balance_sat - self.local_reserve_sat)

    @property
    def usable_remote_sat(self) -> int:
        """Inbound liquidity above the peer's reserve."""
        return max(0, self.remote_balance_sat - self.remote_reserve_sat)
