"""The mutable SIMULATED node behind the LND REST simulator: policies, balances, forwards, simulated time."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from app.graph.model import ChannelGraph
from app.graph.synthetic import block_height_at, short_channel_ids
from app.sandbox.lnd.clock import NS, SimulatedClock
from app.sandbox.lnd.forwards import ForwardingLog, ForwardSimulator
from app.sandbox.lnd.model import ClosedChannel, Forward, LiveChannel, Policy
from app.sandbox.state import SandboxState

DAY_S = 86_400
# LND re-announces every channel at least every two weeks, so an untouched policy is at most that old.
KEEPALIVE_S = 13 * DAY_S
ANCHOR_RESERVE_SAT = 10_000  # per anchor channel, capped at 100k sat (lnwallet's anchor reserve)
CLOSE_TYPES = (
    ("COOPERATIVE_CLOSE", 0.6), ("REMOTE_FORCE_CLOSE", 0.15), ("LOCAL_FORCE_CLOSE", 0.15),
    ("FUNDING_CANCELED", 0.05), ("ABANDONED", 0.05),
)  # fmt: skip


@dataclass(frozen=True)
class WalletBalance:
    """SIMULATED on-chain wallet balance in sat."""

    confirmed_sat: int
    unconfirmed_sat: int
    reserved_anchor_sat: int


class SimulatedNode:
    """One node of the graph, live: LND's view of its channels, policies and forwarding history."""

    def __init__(
        self,
        state: SandboxState,
        graph: ChannelGraph,
        clock: SimulatedClock | None = None,
        accept_positive_inbound_fees: bool = False,
    ) -> None:
        self.state = state
        self.graph = graph
        self.index = graph.index[state.node.pubkey]
        self.clock = clock or SimulatedClock(state.now_s)
        self.accept_positive_inbound_fees = accept_positive_inbound_fees
        self.policy_version = 0  # bumped on every applied policy change (graph caches key on it)
        self.started_s = state.now_s
        changed = {change.chan_id: change.changed_at_s for change in state.policy_changes}
        self.channels: dict[str, LiveChannel] = {}
        for channel, edge in zip(state.channels, state.graph_edges, strict=True):
            updated = changed.get(channel.chan_id, state.now_s - stable_hash(channel.chan_id) % KEEPALIVE_S)
            self.channels[channel.chan_id] = LiveChannel.start(channel, edge, updated)
        self.reference = {chan_id: live.policy for chan_id, live in self.channels.items()}
        self._by_point = {live.channel.channel_point: chan_id for chan_id, live in self.channels.items()}
        self.edge_channels = {live.edge: chan_id for chan_id, live in self.channels.items()}
        history = [
            Forward(f.timestamp_ns, f.chan_id_in, f.chan_id_out, f.amt_in_msat, f.amt_out_msat)
            for f in state.forwards
        ]
        self.log = ForwardingLog(history)
        node_key = int(state.node.pubkey[2:18], 16)
        rate = len(history) / (state.days * DAY_S)
        self._simulator = ForwardSimulator(state.seed, node_key, self.log.events[:], rate)
        self._synced_ns = state.now_s * NS
        self.closed = _closed_channels(state, graph, node_key)
        self.wallet = _wallet(state, node_key)
        self.clock.subscribe(self.sync)

    @property
    def pubkey(self) -> str:
        """The node's identity pubkey."""
        return self.state.node.pubkey

    @property
    def alias(self) -> str:
        """The node's alias as the graph announces it."""
        return self.state.node.alias

    def now_s(self) -> int:
        """Simulated now in seconds, after bringing the forwarding log up to it."""
        self.sync()
        return self._synced_ns // NS

    def now_ns(self) -> int:
        """Simulated now in nanoseconds, after bringing the forwarding log up to it."""
        self.sync()
        return self._synced_ns

    def block_height(self) -> int:
        """The chain tip at simulated now (600 s blocks)."""
        return block_height_at(self.now_s())

    def sync(self) -> None:
        """Settle the SIMULATED forwards between the last sync and the clock's now."""
        now = self.clock.now_ns()
        if now <= self._synced_ns:
            return
        self.log.append(self._simulator.between(self._synced_ns, now, self.channels, self.reference))
        self._synced_ns = now

    def channel_at(self, txid: str, output_index: int) -> LiveChannel | None:
        """The open channel funded by `txid:output_index` (txid in display hex), if any."""
        chan_id = self._by_point.get(f"{txid}:{output_index}")
        return self.channels[chan_id] if chan_id else None

    def set_policy(self, live: LiveChannel, policy: Policy) -> None:
        """Apply a policy to one of our channels, stamped with simulated now."""
        live.policy = policy
        live.policy_updated_s = self.now_s()
        self.policy_version += 1

    def peer_alias(self, pubkey: str) -> str:
        """The alias the graph holds for a peer (LND's graph lookup for `peer_alias_lookup`)."""
        index = self.graph.index.get(pubkey)
        return self.graph.aliases[index] if index is not None else ""

    def alias_of_channel(self, chan_id: str) -> str:
        """The alias of the peer on one of our channels, or LND's lookup failure text."""
        live = self.channels.get(chan_id)
        if live is None:
            return "unable to lookup peer alias: edge not found"
        return self.peer_alias(live.channel.remote_pubkey)

    def active_count(self) -> int:
        """Channels whose peer is online."""
        return sum(1 for live in self.channels.values() if live.channel.active)


def stable_hash(text: str) -> int:
    """A stable integer from a string (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _closed_channels(state: SandboxState, graph: ChannelGraph, node_key: int) -> list[ClosedChannel]:
    """A handful of SIMULATED closed channels, sorted by close height as LND returns them."""
    rng = np.random.default_rng([state.seed, node_key, 7])
    count = int(rng.integers(3, 9))
    tip = block_height_at(state.now_s)
    scids = short_channel_ids(rng, count, tip - 2_000)
    names = [name for name, _ in CLOSE_TYPES]
    weights = [weight for _, weight in CLOSE_TYPES]
    kinds = rng.choice(len(names), size=count, p=np.array(weights))
    closed = []
    for i, scid in enumerate(scids.tolist()):
        kind = names[int(kinds[i])]
        capacity = int(np.clip(rng.lognormal(np.log(2_000_000), 1.0), 20_000, 50_000_000))
        settled = int(capacity * rng.uniform(0.0, 0.9))
        open_block = scid >> 40
        digest = hashlib.sha256(f"closed:{state.seed}:{state.node.pubkey}:{scid}".encode()).hexdigest()
        local_open = bool(rng.random() < 0.4)
        closer = {"COOPERATIVE_CLOSE": "INITIATOR_LOCAL" if rng.random() < 0.5 else "INITIATOR_REMOTE",
                  "LOCAL_FORCE_CLOSE": "INITIATOR_LOCAL", "REMOTE_FORCE_CLOSE": "INITIATOR_REMOTE"}  # fmt: skip
        closed.append(
            ClosedChannel(
                chan_id=str(scid),
                channel_point=f"{digest}:{scid & 0xFFFF}",
                closing_tx_hash=hashlib.sha256(digest.encode()).hexdigest(),
                remote_pubkey=graph.pubkeys[int(rng.integers(0, graph.node_count))],
                capacity_sat=capacity,
                close_height=int(rng.integers(max(open_block + 6, tip - 20_000), tip)),
                settled_balance_sat=settled if kind != "FUNDING_CANCELED" else 0,
                time_locked_balance_sat=0,
                close_type=kind,
                open_initiator="INITIATOR_LOCAL" if local_open else "INITIATOR_REMOTE",
                close_initiator=closer.get(kind, "INITIATOR_UNKNOWN"),
            )
        )
    closed.sort(key=lambda channel: channel.close_height)
    return closed


def _wallet(state: SandboxState, node_key: int) -> WalletBalance:
    """A SIMULATED on-chain balance of a few percent of the node's channel capacity."""
    rng = np.random.default_rng([state.seed, node_key, 11])
    capacity = sum(channel.capacity_sat for channel in state.channels)
    confirmed = int(capacity * rng.uniform(0.01, 0.05)) + 100_000
    reserve = min(ANCHOR_RESERVE_SAT * len(state.channels), 100_000)
    return WalletBalance(confirmed_sat=confirmed, unconfirmed_sat=0, reserved_anchor_sat=reserve)
