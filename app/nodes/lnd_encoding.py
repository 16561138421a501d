"""LND REST JSON <-> domain models: int64 strings parsed here, at the edge, with clear errors."""

from __future__ import annotations

from typing import Any

from app.domain.channel import Channel, ChannelRef
from app.domain.forwarding import ForwardingEvent
from app.domain.node import NodeInfo
from app.domain.policy import ChannelPolicy
from app.errors import InvalidInputError, UpstreamError


def as_int(record: dict[str, Any], field: str, where: str, default: int | None = None) -> int:
    """An integer field LND may send as a JSON number or a decimal string (int64/uint64)."""
    value = record.get(field, default)
    if type(value) is int:
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise UpstreamError(f"LND sent {where} with field {field!r} = {value!r}; expected an integer")


def node_info(data: dict[str, Any]) -> NodeInfo:
    """`GET /v1/getinfo` to NodeInfo."""
    where = "getinfo"
    return NodeInfo(
        pubkey=data.get("identity_pubkey", ""),
        alias=data.get("alias", ""),
        block_height=as_int(data, "block_height", where, 0),
        num_active_channels=as_int(data, "num_active_channels", where, 0),
        num_inactive_channels=as_int(data, "num_inactive_channels", where, 0),
        num_peers=as_int(data, "num_peers", where, 0),
        synced_to_chain=bool(data.get("synced_to_chain", False)),
        version=data.get("version", ""),
    )


def routing_policy(data: dict[str, Any], where: str) -> ChannelPolicy:
    """An lnrpcRoutingPolicy (graph edge side) to ChannelPolicy."""
    return ChannelPolicy(
        base_fee_msat=as_int(data, "fee_base_msat", where, 0),
        fee_rate_ppm=as_int(data, "fee_rate_milli_msat", where, 0),
        time_lock_delta=as_int(data, "time_lock_delta", where, 0),
        min_htlc_msat=as_int(data, "min_htlc", where, 0),
        max_htlc_msat=as_int(data, "max_htlc_msat", where, 0),
        inbound_base_fee_msat=as_int(data, "inbound_fee_base_msat", where, 0),
        inbound_fee_rate_ppm=as_int(data, "inbound_fee_rate_milli_msat", where, 0),
        disabled=bool(data.get("disabled", False)),
    )


def own_policy(edge: dict[str, Any], our_pubkey: str) -> tuple[ChannelPolicy, int | None] | None:
    """Our side of an lnrpcChannelEdge and its last_update (None when 0), or None when never announced."""
    side = "node1_policy" if edge.get("node1_pub") == our_pubkey else "node2_policy"
    policy = edge.get(side)
    if not isinstance(policy, dict):
        return None
    where = f"graph edge {edge.get('channel_id')} {side}"
    return routing_policy(policy, where), as_int(policy, "last_update", where, 0) or None


def with_fee_report(policy: ChannelPolicy, fees: dict[str, Any] | None, where: str) -> ChannelPolicy:
    """Overlay `/v1/fees` (authoritative for fees, and newer than gossip) on a policy."""
    if fees is None:
        return policy
    return policy.model_copy(
        update={
            "base_fee_msat": as_int(fees, "base_fee_msat", where, 0),
            "fee_rate_ppm": as_int(fees, "fee_per_mil", where, 0),
            "inbound_base_fee_msat": as_int(fees, "inbound_base_fee_msat", where, 0),
            "inbound_fee_rate_ppm": as_int(fees, "inbound_fee_per_mil", where, 0),
        }
    )


def channel(data: dict[str, Any], policy: ChannelPolicy) -> Channel:
    """An lnrpcChannel plus our policy to Channel."""
    where = f"channel {data.get('chan_id')}"
    return Channel(
        chan_id=str(data.get("chan_id", "")),
        channel_point=data.get("channel_point", ""),
        remote_pubkey=data.get("remote_pubkey", ""),
        capacity_sat=as_int(data, "capacity", where),
        local_balance_sat=as_int(data, "local_balance", where, 0),
        remote_balance_sat=as_int(data, "remote_balance", where, 0),
        local_reserve_sat=as_int(data, "local_chan_reserve_sat", where, 0),
        remote_reserve_sat=as_int(data, "remote_chan_reserve_sat", where, 0),
        active=bool(data.get("active", False)),
        private=bool(data.get("private", False)),
        initiator=bool(data.get("initiator", False)),
        uptime_s=as_int(data, "uptime", where, 0),
        lifetime_s=as_int(data, "lifetime", where, 0),
        total_sent_sat=as_int(data, "total_satoshis_sent", where, 0),
        total_received_sat=as_int(data, "total_satoshis_received", where, 0),
        local_policy=policy,
    )


def forwarding_event(data: dict[str, Any]) -> ForwardingEvent:
    """An lnrpcForwardingEvent to ForwardingEvent (msat fields and nanosecond time)."""
    where = "forwarding event"
    timestamp_ns = (
        as_int(data, "timestamp_ns", where, 0) or as_int(data, "timestamp", where, 0) * 1_000_000_000
    )
    return ForwardingEvent(
        timestamp_ns=timestamp_ns,
        chan_id_in=str(data.get("chan_id_in", "")),
        chan_id_out=str(data.get("chan_id_out", "")),
        amt_in_msat=as_int(data, "amt_in_msat", where),
        amt_out_msat=as_int(data, "amt_out_msat", where),
        fee_msat=as_int(data, "fee_msat", where),
    )


def policy_update_request(
    channel: ChannelRef, policy: ChannelPolicy, current: ChannelPolicy | None
) -> dict[str, Any]:
    """`POST /v1/chanpolicy` body: the complete policy, fee_rate_ppm only, inbound only when it changes.

    Without `current` (the node's policy now) the inbound fee is always sent.
    """
    if not policy.is_complete:
        raise InvalidInputError(
            f"an LND policy update needs every field; channel {channel.chan_id} has unknown ones",
            {"chan_id": channel.chan_id},
        )
    body: dict[str, Any] = {
        "chan_point": {"funding_txid_str": channel.funding_txid, "output_index": channel.output_index},
        "base_fee_msat": str(policy.base_fee_msat),
        "fee_rate_ppm": policy.fee_rate_ppm,
        "time_lock_delta": policy.time_lock_delta,  # LND validates it on every update, so it is always sent
        "max_htlc_msat": str(policy.max_htlc_msat),
        "min_htlc_msat": str(policy.min_htlc_msat),
        "min_htlc_msat_specified": True,
    }
    inbound_changed = current is None or (policy.inbound_base_fee_msat, policy.inbound_fee_rate_ppm) != (
        current.inbound_base_fee_msat,
        current.inbound_fee_rate_ppm,
    )
    if inbound_changed:  # omitting inbound_fee keeps the current one on LND
        body["inbound_fee"] = {
            "base_fee_msat": policy.inbound_base_fee_msat,
            "fee_rate_ppm": policy.inbound_fee_rate_ppm,
        }
    return body
