"""SIMULATED channels of one graph node: balances, liveness and ids around its announced policies."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.domain.channel import Channel
from app.domain.policy import ChannelPolicy
from app.graph.model import ChannelGraph
from app.graph.synthetic import BLOCK_INTERVAL_S, block_height_at, short_channel_ids

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DUST_LIMIT_SAT = 354  # LND's minimum channel reserve
ACTIVE_SHARE = 0.93
# LND's defaults, used when the node announced nothing usable for a channel and has no habit to copy.
LND_DEFAULT_BASE_FEE_MSAT = 1_000
LND_DEFAULT_FEE_RATE_PPM = 1
LND_DEFAULT_TIME_LOCK_DELTA = 80
POLICY_NUMBERS = (
    "base_fee_msat", "fee_rate_ppm", "time_lock_delta", "min_htlc_msat", "max_htlc_msat",
    "inbound_base_fee_msat", "inbound_fee_rate_ppm",
)  # fmt: skip


@dataclass(frozen=True)
class SimulatedChannels:
    """The channels plus the per-channel columns the forwarding simulation needs."""

    channels: list[Channel]
    edges: IntArray
    peers: IntArray
    age_s: IntArray


def simulate_channels(
    graph: ChannelGraph, node: int, rng: np.random.Generator, seed: int, now_s: int
) -> SimulatedChannels:
    """One Channel per graph edge of `node` (parallel channels included), deterministic from `rng`."""
    edges = graph.edges_of(node).astype(np.int64)
    count = len(edges)
    peers = graph.other_ends(node, edges).astype(np.int64)
    capacity = graph.capacity_sat[edges]
    tip = block_height_at(now_s)
    scids = short_channel_ids(rng, count, tip)
    age_s = np.maximum(tip - (scids >> 40), 0) * BLOCK_INTERVAL_S
    active = _activity(rng, graph, node, edges)
    local, remote, commit_fee = _balances(rng, capacity)
    initiator = rng.random(count) < 0.4  # big nodes are mostly opened to, not opening
    reserve = np.maximum(capacity // 100, DUST_LIMIT_SAT)
    lifetime, uptime = _liveness(rng, age_s, active)
    sent, received = _totals(rng, capacity, age_s, local, np.where(initiator, capacity - commit_fee, 0))
    local_policies = _local_policies(graph, node, edges, (capacity - reserve) * 1_000, active)
    pubkey = graph.pubkeys[node]
    channels = []
    for i, edge in enumerate(edges.tolist()):
        scid = int(scids[i])
        txid = hashlib.sha256(f"sandbox:{seed}:{pubkey}:{edge}".encode()).hexdigest()
        peer = int(peers[i])
        channels.append(
            Channel(
                chan_id=str(scid),
                channel_point=f"{txid}:{scid & 0xFFFF}",  # the funding output index is the scid's output
                remote_pubkey=graph.pubkeys[peer],
                capacity_sat=int(capacity[i]),
                local_balance_sat=int(local[i]),
                remote_balance_sat=int(remote[i]),
                local_reserve_sat=int(reserve[i]),
                remote_reserve_sat=int(reserve[i]),
                active=bool(active[i]),
                private=False,
                initiator=bool(initiator[i]),
                uptime_s=int(uptime[i]),
                lifetime_s=int(lifetime[i]),
                total_sent_sat=int(sent[i]),
                total_received_sat=int(received[i]),
                local_policy=local_policies[i],
                remote_policy=graph.policy_of(edge, peer),
            )
        )
    return SimulatedChannels(channels=channels, edges=edges, peers=peers, age_s=age_s)


def _own_column(graph: ChannelGraph, node: int, edges: IntArray, name: str) -> IntArray:
    """One policy column as announced by `node` on each of its edges."""
    own_is_node1 = graph.node1[edges] == node
    first: IntArray = getattr(graph.policy1, name)
    second: IntArray = getattr(graph.policy2, name)
    return np.where(own_is_node1, first[edges], second[edges])


def _enabled_by(graph: ChannelGraph, node: int, edges: IntArray, peers: bool = False) -> BoolArray:
    """Whether `node` (or, with `peers`, the other end) announced an enabled policy on each edge."""
    own_is_node1 = graph.node1[edges] == node
    use_first = ~own_is_node1 if peers else own_is_node1
    return np.where(use_first, graph.policy1.enabled()[edges], graph.policy2.enabled()[edges])


def _activity(rng: np.random.Generator, graph: ChannelGraph, node: int, edges: IntArray) -> BoolArray:
    """About 93 % active; a peer that disabled its direction is most likely the one offline."""
    count = len(edges)
    inactive = int(rng.binomial(count, 1 - ACTIVE_SHARE)) if count else 0
    score = rng.random(count) + np.where(_enabled_by(graph, node, edges, peers=True), 0.0, 1.0)
    active = np.ones(count, dtype=bool)
    active[np.argsort(-score)[:inactive]] = False
    return active


def _balances(rng: np.random.Generator, capacity: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Local/remote balances from a mix of balanced, depleted (< 15 %) and full (> 85 %) channels."""
    count = len(capacity)
    kind = rng.choice(4, size=count, p=[0.35, 0.28, 0.25, 0.12])
    ratio = np.select(
        [kind == 0, kind == 1, kind == 2],
        [rng.beta(4, 4, count), 0.15 * rng.beta(1.2, 2.5, count), 1 - 0.15 * rng.beta(1.2, 2.5, count)],
        default=rng.random(count),
    )
    # The initiator pays the commitment fee (anchors: a few thousand sat), so the sum stays below capacity.
    commit_fee = np.minimum(rng.integers(700, 3_000, count), capacity // 20)
    available = capacity - commit_fee
    local = np.floor(ratio * available).astype(np.int64)
    return local, available - local, commit_fee


def _liveness(rng: np.random.Generator, age_s: IntArray, active: BoolArray) -> tuple[IntArray, IntArray]:
    """LND monitors uptime since the channel opened or the node last restarted, whichever is later."""
    since_restart_s = int(rng.uniform(10, 180) * 86_400)
    lifetime = np.minimum(age_s, since_restart_s)
    ratio = np.where(active, rng.beta(30, 1, len(age_s)), rng.uniform(0.3, 0.95, len(age_s)))
    return lifetime, np.floor(lifetime * ratio).astype(np.int64)


def _totals(
    rng: np.random.Generator, capacity: IntArray, age_s: IntArray, local: IntArray, opening_local: IntArray
) -> tuple[IntArray, IntArray]:
    """Lifetime sent/received, consistent with how the local balance moved since opening."""
    years = np.minimum(age_s / (365 * 86_400), 2.0)
    received = np.floor(capacity * rng.lognormal(np.log(0.5), 1.0, len(capacity)) * years).astype(np.int64)
    sent = received + opening_local - local
    received = received - np.minimum(sent, 0)  # keep both non-negative
    return np.maximum(sent, 0), received


def _node_habit(values: IntArray, fallback: int, median: bool = False) -> int:
    """The value a node uses most (or its median) on its enabled channels, as operators reuse settings."""
    if len(values) == 0:
        return fallback
    if median:
        return int(np.median(values))
    found, counts = np.unique(values, return_counts=True)
    return int(found[np.argmax(counts)])


def _local_policies(
    graph: ChannelGraph, node: int, edges: IntArray, sendable_msat: IntArray, active: BoolArray
) -> list[ChannelPolicy]:
    """The graph's own policy when it is enabled, else a realistic enabled default; inactive ones disabled."""
    enabled = _enabled_by(graph, node, edges)
    columns = {name: _own_column(graph, node, edges, name) for name in POLICY_NUMBERS}
    # Like LND, the simulated node never offers more than capacity minus reserve (0 = unset: the same),
    # and a minimum of 0 msat means 1 msat (no HTLC is smaller); it keeps min <= max.
    announced_max = columns["max_htlc_msat"]
    max_htlc = np.where((announced_max > 0) & (announced_max < sendable_msat), announced_max, sendable_msat)
    min_htlc = np.clip(columns["min_htlc_msat"], 1, np.maximum(max_htlc, 1))
    default_base = _node_habit(columns["base_fee_msat"][enabled], LND_DEFAULT_BASE_FEE_MSAT)
    default_rate = _node_habit(columns["fee_rate_ppm"][enabled], LND_DEFAULT_FEE_RATE_PPM, median=True)
    default_cltv = _node_habit(columns["time_lock_delta"][enabled], LND_DEFAULT_TIME_LOCK_DELTA)
    policies = []
    for i in range(len(edges)):
        if enabled[i]:
            policy = ChannelPolicy(
                base_fee_msat=int(columns["base_fee_msat"][i]),
                fee_rate_ppm=int(columns["fee_rate_ppm"][i]),
                time_lock_delta=int(columns["time_lock_delta"][i]),
                min_htlc_msat=int(min_htlc[i]),
                max_htlc_msat=int(max_htlc[i]),
                inbound_base_fee_msat=int(columns["inbound_base_fee_msat"][i]),
                inbound_fee_rate_ppm=int(columns["inbound_fee_rate_ppm"][i]),
                disabled=not active[i],  # LND disables a channel whose peer went offline
            )
        else:
            policy = ChannelPolicy(
                base_fee_msat=default_base,
                fee_rate_ppm=default_rate,
                time_lock_delta=default_cltv,
                min_htlc_msat=1_000,
                max_htlc_msat=int(sendable_msat[i]),  # 99 % of the capacity above 35,400 sat
                disabled=not active[i],
            )
        policies.append(policy)
    return policies
