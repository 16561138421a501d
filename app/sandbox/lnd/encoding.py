"""Simulator records to LND REST JSON: proto names, every field emitted, int64/uint64 as strings.

LND marshals REST responses with protojson (UseProtoNames, EmitUnpopulated): default values are still
sent (0, false, "", [] and {}), an unset message field is `null`, 64-bit integers are decimal strings,
32-bit ones JSON numbers, bytes base64 and enums their names.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from app.sandbox.lnd.model import ClosedChannel, Forward, LiveChannel, Policy
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.peers import Peer

MAINNET_GENESIS = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
LND_COLOR = "#3399ff"  # LND's default node colour
DUST_LIMIT_SAT = 354
MAX_ACCEPTED_HTLCS = 483
COMMIT_WEIGHT = 1_116  # an anchor commitment without HTLCs, witness included
FEE_PER_KW = 2_500
# Policy attributes (and graph PolicyColumns names) in routing_record's parameter order.
ROUTING_FIELDS = (
    "time_lock_delta", "min_htlc_msat", "base_fee_msat", "fee_rate_ppm", "disabled", "max_htlc_msat",
    "inbound_base_fee_msat", "inbound_fee_rate_ppm",
)  # fmt: skip
# (bit, name, required) of a current LND node's feature vector.
LND_FEATURES: tuple[tuple[int, str, bool], ...] = (
    (0, "data-loss-protect", True), (5, "upfront-shutdown-script", False), (7, "gossip-queries", False),
    (9, "tlv-onion", False), (12, "static-remote-key", True), (14, "payment-addr", True),
    (17, "multi-path-payments", False), (19, "wumbo-channels", False), (23, "anchors-zero-fee-htlc-tx", False),
    (25, "route-blinding", False), (27, "shutdown-any-segwit", False), (31, "amp", False),
    (45, "explicit-commitment-type", False), (47, "scid-alias", False), (51, "zero-conf", False),
    (55, "keysend", False), (2023, "script-enforced-lease", False),
)  # fmt: skip


def features() -> dict[str, Any]:
    """The feature map of getinfo and of our own node announcement (keys are bit numbers)."""
    return {str(bit): {"name": name, "is_required": req, "is_known": True} for bit, name, req in LND_FEATURES}


def getinfo(node: SimulatedNode) -> dict[str, Any]:
    """`lnrpcGetInfoResponse`."""
    now_s = node.now_s()
    height = node.block_height()
    active = node.active_count()
    return {
        "version": node.state.node.version,
        "commit_hash": hashlib.sha1(node.state.node.version.encode()).hexdigest(),
        "identity_pubkey": node.pubkey,
        "alias": node.alias,
        "color": LND_COLOR,
        "num_pending_channels": 0,
        "num_active_channels": active,
        "num_inactive_channels": len(node.channels) - active,
        "num_peers": len(
            {live.channel.remote_pubkey for live in node.channels.values() if live.channel.active}
        ),
        "block_height": height,
        "block_hash": "0000000000000000000" + hashlib.sha256(str(height).encode()).hexdigest()[19:],
        "best_header_timestamp": str(now_s - now_s % 600),
        "synced_to_chain": True,
        "synced_to_graph": True,
        "testnet": False,
        "chains": [{"chain": "bitcoin", "network": "mainnet"}],
        "uris": [],
        "features": features(),
        "require_htlc_interceptor": False,
        "store_final_htlc_resolutions": False,
        "wallet_synced": True,
        "graph_cache_status": "GRAPH_CACHE_STATUS_LOADED",
    }


def channel(live: LiveChannel, peer_alias: str = "") -> dict[str, Any]:
    """`lnrpcChannel` (no fee fields: LND reports our fees in `/v1/fees`)."""
    ch = live.channel
    local_sat, remote_sat = live.local_msat // 1_000, live.remote_msat // 1_000
    csv_delay = min(2_016, max(144, ch.capacity_sat * 2_016 // 16_777_215))  # LND scales it with capacity
    return {
        "active": ch.active,
        "remote_pubkey": ch.remote_pubkey,
        "channel_point": ch.channel_point,
        "chan_id": ch.chan_id,
        "capacity": str(ch.capacity_sat),
        "local_balance": str(local_sat),
        "remote_balance": str(remote_sat),
        "commit_fee": str(max(0, ch.capacity_sat - local_sat - remote_sat)),
        "commit_weight": str(COMMIT_WEIGHT),
        "fee_per_kw": str(FEE_PER_KW),
        "unsettled_balance": "0",
        "total_satoshis_sent": str(live.sent_msat // 1_000),
        "total_satoshis_received": str(live.received_msat // 1_000),
        "num_updates": str(live.num_updates),
        "pending_htlcs": [],
        "csv_delay": csv_delay,
        "private": ch.private,
        "initiator": ch.initiator,
        "chan_status_flags": "ChanStatusDefault",
        "local_chan_reserve_sat": str(ch.local_reserve_sat),
        "remote_chan_reserve_sat": str(ch.remote_reserve_sat),
        "static_remote_key": False,  # LND sets it only for the STATIC_REMOTE_KEY commitment type
        "commitment_type": "ANCHORS",
        "lifetime": str(ch.lifetime_s),
        "uptime": str(ch.uptime_s),
        "close_address": "",
        "push_amount_sat": "0",
        "thaw_height": 0,
        "local_constraints": _constraints(csv_delay, ch.local_reserve_sat, live.max_pending_msat),
        "remote_constraints": _constraints(csv_delay, ch.remote_reserve_sat, ch.capacity_sat * 1_000),
        "alias_scids": [],
        "zero_conf": False,
        "zero_conf_confirmed_scid": "0",
        "peer_alias": peer_alias,
        "peer_scid_alias": "0",
        "memo": "",
        "custom_channel_data": "",
    }


def _constraints(csv_delay: int, reserve_sat: int, max_pending_msat: int) -> dict[str, Any]:
    return {
        "csv_delay": csv_delay,
        "chan_reserve_sat": str(reserve_sat),
        "dust_limit_sat": str(DUST_LIMIT_SAT),
        "max_pending_amt_msat": str(max_pending_msat),
        "min_htlc_msat": "1",
        "max_accepted_htlcs": MAX_ACCEPTED_HTLCS,
    }


def channel_fee(live: LiveChannel) -> dict[str, Any]:
    """`lnrpcChannelFeeReport`: our policy of one channel."""
    policy = live.policy
    return {
        "chan_id": live.chan_id,
        "channel_point": live.channel.channel_point,
        "base_fee_msat": str(policy.base_fee_msat),
        "fee_per_mil": str(policy.fee_rate_ppm),
        "fee_rate": policy.fee_rate_ppm / 1_000_000,
        "inbound_base_fee_msat": policy.inbound_base_fee_msat,
        "inbound_fee_per_mil": policy.inbound_fee_rate_ppm,
    }


def routing_policy(policy: Policy | None, last_update: int) -> dict[str, Any] | None:
    """`lnrpcRoutingPolicy`, or None (JSON null) when that side never announced one."""
    if policy is None:
        return None
    return routing_record(
        policy.time_lock_delta,
        policy.min_htlc_msat,
        policy.base_fee_msat,
        policy.fee_rate_ppm,
        policy.disabled,
        policy.max_htlc_msat,
        policy.inbound_base_fee_msat,
        policy.inbound_fee_rate_ppm,
        last_update,
    )


def routing_record(
    time_lock_delta: int,
    min_htlc_msat: int,
    base_fee_msat: int,
    fee_rate_ppm: int,
    disabled: bool,
    max_htlc_msat: int,
    inbound_base_fee_msat: int,
    inbound_fee_rate_ppm: int,
    last_update: int,
) -> dict[str, Any]:
    """`lnrpcRoutingPolicy` from its fields, in ROUTING_FIELDS order (positional: the graph render is hot)."""
    return {
        "time_lock_delta": time_lock_delta,
        "min_htlc": str(min_htlc_msat),
        "fee_base_msat": str(base_fee_msat),
        "fee_rate_milli_msat": str(fee_rate_ppm),
        "disabled": disabled,
        "max_htlc_msat": str(max_htlc_msat),
        "last_update": last_update,
        "custom_records": {},
        "inbound_fee_base_msat": inbound_base_fee_msat,
        "inbound_fee_rate_milli_msat": inbound_fee_rate_ppm,
    }


def lightning_node(pubkey: str, alias: str, own: bool, last_update: int = 0) -> dict[str, Any]:
    """`lnrpcLightningNode`; the snapshot carries no addresses, colours or features for other nodes."""
    return {
        "last_update": last_update,
        "pub_key": pubkey,
        "alias": alias,
        "addresses": [],
        "color": LND_COLOR if own else "#000000",
        "features": features() if own else {},
        "custom_records": {},
    }


def auth_proof(channel_id: str) -> dict[str, Any]:
    """`lnrpcChannelAuthProof` with SIMULATED signatures (deterministic bytes, base64)."""
    sigs = [hashlib.sha512(f"{channel_id}:{part}".encode()).digest()[:64] for part in range(4)]
    names = ("node_sig1", "bitcoin_sig1", "node_sig2", "bitcoin_sig2")
    return {name: base64.b64encode(sig).decode() for name, sig in zip(names, sigs, strict=True)}


def forward(event: Forward, alias_in: str = "", alias_out: str = "") -> dict[str, Any]:
    """`lnrpcForwardingEvent` (the optional htlc ids are unset, so protojson leaves them out)."""
    fee = event.fee_msat
    return {
        "timestamp": str(event.timestamp_ns // 1_000_000_000),
        "chan_id_in": event.chan_id_in,
        "chan_id_out": event.chan_id_out,
        "amt_in": str(event.amt_in_msat // 1_000),
        "amt_out": str(event.amt_out_msat // 1_000),
        "fee": str(fee // 1_000),
        "fee_msat": str(fee),
        "amt_in_msat": str(event.amt_in_msat),
        "amt_out_msat": str(event.amt_out_msat),
        "timestamp_ns": str(event.timestamp_ns),
        "peer_alias_in": alias_in,
        "peer_alias_out": alias_out,
    }


def peer(record: Peer) -> dict[str, Any]:
    """`lnrpcPeer`; the remote's init features are shown as LND's own (the snapshot has none)."""
    return {
        "pub_key": record.pub_key,
        "address": record.address,
        "bytes_sent": str(record.bytes_sent),
        "bytes_recv": str(record.bytes_recv),
        "sat_sent": str(record.sat_sent),
        "sat_recv": str(record.sat_recv),
        "inbound": record.inbound,
        "ping_time": str(record.ping_time_us),
        "sync_type": record.sync_type,
        "features": features(),
        "errors": [],  # errors are kept only while LND runs, and nothing has gone wrong here
        "flap_count": record.flap_count,
        "last_flap_ns": str(record.last_flap_ns),
        "last_ping_payload": base64.b64encode(record.last_ping_payload).decode(),
    }


def outpoint(txid: str, output_index: int) -> dict[str, Any]:
    """`lnrpcOutPoint`: txid_bytes in LND's internal (reversed) byte order, txid_str as displayed."""
    return {
        "txid_bytes": base64.b64encode(bytes.fromhex(txid)[::-1]).decode(),
        "txid_str": txid,
        "output_index": output_index,
    }


def failed_update(txid: str, output_index: int, reason: str, message: str) -> dict[str, Any]:
    """`lnrpcFailedUpdate`."""
    return {"outpoint": outpoint(txid, output_index), "reason": reason, "update_error": message}


def closed_channel(closed: ClosedChannel) -> dict[str, Any]:
    """`lnrpcChannelCloseSummary`."""
    return {
        "channel_point": closed.channel_point,
        "chan_id": closed.chan_id,
        "chain_hash": MAINNET_GENESIS,
        "closing_tx_hash": closed.closing_tx_hash,
        "remote_pubkey": closed.remote_pubkey,
        "capacity": str(closed.capacity_sat),
        "close_height": closed.close_height,
        "settled_balance": str(closed.settled_balance_sat),
        "time_locked_balance": str(closed.time_locked_balance_sat),
        "close_type": closed.close_type,
        "open_initiator": closed.open_initiator,
        "close_initiator": closed.close_initiator,
        "resolutions": [],
        "alias_scids": [],
        "zero_conf_confirmed_scid": "0",
        "custom_channel_data": "",
    }


def pending_channels() -> dict[str, Any]:
    """`lnrpcPendingChannelsResponse`: the simulated node has nothing pending."""
    return {
        "total_limbo_balance": "0",
        "pending_open_channels": [],
        "pending_closing_channels": [],
        "pending_force_closing_channels": [],
        "waiting_close_channels": [],
    }


def _amount(msat: int) -> dict[str, str]:
    return {"sat": str(msat // 1_000), "msat": str(msat)}


def channel_balance(node: SimulatedNode) -> dict[str, Any]:
    """`lnrpcChannelBalanceResponse`, summed over open channels."""
    local = sum(live.local_msat for live in node.channels.values())
    remote = sum(live.remote_msat for live in node.channels.values())
    return {
        "balance": str(local // 1_000),
        "pending_open_balance": "0",
        "local_balance": _amount(local),
        "remote_balance": _amount(remote),
        "unsettled_local_balance": _amount(0),
        "unsettled_remote_balance": _amount(0),
        "pending_open_local_balance": _amount(0),
        "pending_open_remote_balance": _amount(0),
        "custom_channel_data": "",
    }


def wallet_balance(node: SimulatedNode) -> dict[str, Any]:
    """`lnrpcWalletBalanceResponse` for the default account."""
    wallet = node.wallet
    total = wallet.confirmed_sat + wallet.unconfirmed_sat
    return {
        "total_balance": str(total),
        "confirmed_balance": str(wallet.confirmed_sat),
        "unconfirmed_balance": str(wallet.unconfirmed_sat),
        "locked_balance": "0",
        "reserved_balance_anchor_chan": str(wallet.reserved_anchor_sat),
        "account_balance": {
            "default": {
                "confirmed_balance": str(wallet.confirmed_sat),
                "unconfirmed_balance": str(wallet.unconfirmed_sat),
            }
        },
    }
