"""The simulated node's connected peers (`ListPeers`): one per remote pubkey with an active channel.

LND lists the peers it is connected to right now; a channel is active only while its peer is online, so
the connected peers are the remote ends of the active channels (and `getinfo`'s `num_peers` counts the
same set). Everything LND measures on a live connection (addresses, bytes, ping time, flaps) is
SIMULATED: deterministic per peer, seeded by its pubkey.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from app.sandbox.lnd.clock import NS
from app.sandbox.lnd.model import LiveChannel
from app.sandbox.lnd.node import DAY_S, SimulatedNode, stable_hash

LIGHTNING_PORT = 9735
ACTIVE_SYNC_PEERS = 3  # LND's default numgraphsyncpeers: the rest sync passively
# RFC 5737 documentation ranges: simulated addresses can never be mistaken for a real node's.
TEST_NETS = ("192.0.2", "198.51.100", "203.0.113")
BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
FLAP_WINDOW_S = 30 * DAY_S


@dataclass(frozen=True)
class Peer:
    """One connected peer as `lnrpc.Peer` describes it (SIMULATED connection figures)."""

    pub_key: str
    address: str
    bytes_sent: int
    bytes_recv: int
    sat_sent: int
    sat_recv: int
    inbound: bool
    ping_time_us: int
    sync_type: str
    flap_count: int
    last_flap_ns: int
    last_ping_payload: bytes


def connected_peers(node: SimulatedNode) -> list[Peer]:
    """Every peer with an active channel, sorted by pubkey (LND's order is its map's, i.e. arbitrary)."""
    channels: dict[str, list[LiveChannel]] = {}
    for live in node.channels.values():
        channels.setdefault(live.channel.remote_pubkey, []).append(live)
    online = sorted(
        pubkey for pubkey, lives in channels.items() if any(live.channel.active for live in lives)
    )
    # LND picks a few peers to actively sync the graph from; a stable choice keeps answers deterministic.
    syncing = set(sorted(online, key=lambda pubkey: stable_hash(f"sync:{pubkey}"))[:ACTIVE_SYNC_PEERS])
    payload = ping_payload(node.block_height())
    return [_peer(pubkey, channels[pubkey], pubkey in syncing, node.started_s, payload) for pubkey in online]


def _peer(pubkey: str, lives: list[LiveChannel], syncing: bool, started_s: int, payload: bytes) -> Peer:
    seed = stable_hash(f"peer:{pubkey}")
    updates = sum(live.num_updates for live in lives)
    first = min(lives, key=lambda live: int(live.chan_id))
    flaps = seed % 5
    return Peer(
        pub_key=pubkey,
        address=_address(pubkey, seed),
        # Gossip dominates a routing node's traffic; channel updates add a few hundred bytes each.
        bytes_sent=updates * 180 + (seed >> 8) % 40_000_000,
        bytes_recv=updates * 190 + (seed >> 16) % 60_000_000,
        # LND sums whole satoshis per channel (TotalMSatSent.ToSatoshis()).
        sat_sent=sum(live.sent_msat // 1_000 for live in lives),
        sat_recv=sum(live.received_msat // 1_000 for live in lives),
        inbound=not first.channel.initiator,
        ping_time_us=15_000 + (seed >> 24) % 400_000,
        sync_type="ACTIVE_SYNC" if syncing else "PASSIVE_SYNC",
        flap_count=flaps,
        last_flap_ns=(started_s - (seed >> 32) % FLAP_WINDOW_S) * NS if flaps else 0,
        last_ping_payload=payload,
    )


def _address(pubkey: str, seed: int) -> str:
    """A clearnet (documentation range) or Tor v3 address, as a third of real nodes use Tor only."""
    if seed % 3 == 0:
        digest = hashlib.sha256(f"onion:{pubkey}".encode()).digest() * 2
        host = "".join(BASE32[byte % 32] for byte in digest[:56]) + ".onion"
    else:
        host = f"{TEST_NETS[seed % len(TEST_NETS)]}.{1 + (seed >> 4) % 254}"
    return f"{host}:{LIGHTNING_PORT}"


def ping_payload(height: int) -> bytes:
    """LND's pings carry the best block header (80 bytes); here a SIMULATED header for the height."""
    header = (
        hashlib.sha512(f"header:{height}".encode()).digest() + hashlib.sha256(str(height).encode()).digest()
    )
    return header[:80]
