"""The simulated node's mutable records: current policies, balances, forwards and closed channels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from app.domain.channel import Channel
from app.domain.policy import ChannelPolicy

UINT32_MAX = 2**32 - 1


@dataclass(frozen=True)
class Policy:
    """One direction's routing policy with every field known (what LND stores for its own channels)."""

    base_fee_msat: int
    fee_rate_ppm: int
    time_lock_delta: int
    min_htlc_msat: int
    max_htlc_msat: int
    inbound_base_fee_msat: int = 0
    inbound_fee_rate_ppm: int = 0
    disabled: bool = False

    @classmethod
    def from_domain(cls, policy: ChannelPolicy) -> Policy:
        """From a domain policy; unknown fields take LND's neutral value (0)."""
        return cls(
            base_fee_msat=policy.base_fee_msat,
            fee_rate_ppm=policy.fee_rate_ppm,
            time_lock_delta=policy.time_lock_delta or 0,
            min_htlc_msat=policy.min_htlc_msat or 0,
            max_htlc_msat=policy.max_htlc_msat or 0,
            inbound_base_fee_msat=policy.inbound_base_fee_msat or 0,
            inbound_fee_rate_ppm=policy.inbound_fee_rate_ppm or 0,
            disabled=policy.disabled,
        )

    def fee_msat(self, amount_msat: int) -> int:
        """The outbound fee LND charges for forwarding `amount_msat` (rounded down)."""
        return self.base_fee_msat + amount_msat * self.fee_rate_ppm // 1_000_000


@dataclass
class LiveChannel:
    """One open channel as the simulator keeps it: static facts plus what changes while it runs."""

    channel: Channel
    edge: int  # index of the graph edge this channel stands for
    policy: Policy
    policy_updated_s: int
    local_msat: int
    remote_msat: int
    sent_msat: int
    received_msat: int
    num_updates: int

    @classmethod
    def start(cls, channel: Channel, edge: int, updated_s: int) -> LiveChannel:
        """A channel at the state's moment: balances and totals from the sandbox state."""
        return cls(
            channel=channel,
            edge=edge,
            policy=Policy.from_domain(channel.local_policy),
            policy_updated_s=updated_s,
            local_msat=channel.local_balance_sat * 1_000,
            remote_msat=channel.remote_balance_sat * 1_000,
            sent_msat=channel.total_sent_sat * 1_000,
            received_msat=channel.total_received_sat * 1_000,
            # Every forward settles in about four commitment updates on each side.
            num_updates=(channel.total_sent_sat + channel.total_received_sat) // 25_000 * 4,
        )

    @property
    def chan_id(self) -> str:
        """The short channel id (decimal string)."""
        return self.channel.chan_id

    @property
    def max_pending_msat(self) -> int:
        """LND's max in-flight amount for the channel (capacity minus our reserve), the max_htlc ceiling."""
        return (self.channel.capacity_sat - self.channel.local_reserve_sat) * 1_000

    @property
    def min_htlc_floor_msat(self) -> int:
        """The smallest HTLC the channel's configuration accepts (LND's default `minhtlc` is 1 msat)."""
        return 1


class Forward(NamedTuple):
    """One settled forward as LND's forwarding log stores it (timestamps unique, in nanoseconds)."""

    timestamp_ns: int
    chan_id_in: str
    chan_id_out: str
    amt_in_msat: int
    amt_out_msat: int

    @property
    def fee_msat(self) -> int:
        """The fee earned: incoming minus outgoing amount."""
        return self.amt_in_msat - self.amt_out_msat


@dataclass(frozen=True)
class ClosedChannel:
    """A SIMULATED closed channel, for `GET /v1/channels/closed`."""

    chan_id: str
    channel_point: str
    closing_tx_hash: str
    remote_pubkey: str
    capacity_sat: int
    close_height: int
    settled_balance_sat: int
    time_locked_balance_sat: int
    close_type: str  # lnrpc ChannelCloseSummary.ClosureType name
    open_initiator: str  # lnrpc Initiator name
    close_initiator: str
