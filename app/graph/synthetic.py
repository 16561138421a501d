"""Synthetic `GET /v1/graph` document with the statistics of the 2026-02-03 mainnet snapshot.

A clone without `../shared/data/graph/` still needs a realistic graph for the sandbox, the demo and the
benchmarks; this module builds one with numpy in well under a second, deterministically from a seed.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import numpy.typing as npt

from app.graph.loader import parse_graph
from app.graph.model import ChannelGraph

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

SNAPSHOT_NODES = 17_324
SNAPSHOT_CHANNELS = 50_808
SNAPSHOT_NOW_S = 1_770_076_800  # 2026-02-03T00:00:00Z, the snapshot's date
SNAPSHOT_HEIGHT = 934_000  # approximate mainnet tip on that date
BLOCK_INTERVAL_S = 600
FIRST_CHANNEL_HEIGHT = 540_000  # mid-2018; older channels are rare enough to ignore
# The four largest nodes of the snapshot and their channel counts (README of the snapshot).
HUBS: tuple[tuple[str, int], ...] = (
    ("ACINQ (synthetic)", 1_989),
    ("1ML (synthetic)", 1_771),
    ("CoinGate (synthetic)", 1_268),
    ("Kraken (synthetic)", 1_206),
)
MEDIAN_CAPACITY_SAT = 1_283_178
MIN_CAPACITY_SAT = 20_000
MAX_CAPACITY_SAT = 1_000_000_000
DEAD_CHANNEL_SHARE = 16_915 / 50_808  # both directions disabled in the snapshot
HALF_DEAD_SHARE = 1_976 / 50_808  # exactly one direction disabled
# Enabled fee-rate quantile function (u, ppm) fitted to the snapshot: 6.9 % at 0, 22 % at 1, p50 100, p99 10k.
FEE_RATE_KNOTS: tuple[tuple[float, float], ...] = (
    (0.291, 2.0), (0.40, 33.0), (0.50, 100.0), (0.60, 262.0), (0.75, 569.0), (0.90, 2_000.0),
    (0.95, 3_000.0), (0.99, 10_000.0), (1.0, 50_000.0),
)  # fmt: skip
# Enabled base-fee atoms (msat, weight): 45 % zero, p50 33, a 41 % spike at the LND default of 1000.
BASE_FEES: tuple[tuple[int, float], ...] = (
    (0, 0.453), (1, 0.034), (5, 0.003), (10, 0.006), (33, 0.012), (50, 0.003), (100, 0.012), (200, 0.005),
    (250, 0.003), (500, 0.016), (999, 0.003), (1_000, 0.408), (1_500, 0.005), (2_000, 0.010), (2_500, 0.005),
    (5_000, 0.010), (10_000, 0.008), (20_000, 0.004),
)  # fmt: skip
# Time-lock deltas of enabled directions: p50 80, the LND default (18 and 34 are real too).
CLTV_DELTAS: tuple[tuple[int, float], ...] = (
    (18, 0.03), (34, 0.07), (40, 0.18), (80, 0.41), (100, 0.12), (144, 0.19),
)  # fmt: skip
NICE_MANTISSAS = np.array([1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0])


def generate_graph_document(
    seed: int = 7, node_count: int = SNAPSHOT_NODES, channel_count: int = SNAPSHOT_CHANNELS
) -> dict[str, Any]:
    """A SYNTHETIC graph in the LND `GET /v1/graph` shape, imitating the 2026-02-03 snapshot's statistics."""
    too_dense = channel_count > node_count * (node_count - 1) // 4
    if node_count < 10 or channel_count * 2 < node_count or too_dense:
        raise ValueError(f"cannot build a graph with {node_count} nodes and {channel_count} channels")
    rng = np.random.default_rng([seed, node_count, channel_count])
    hubs = _hub_degrees(node_count, channel_count)
    degrees = _degree_sequence(rng, node_count, channel_count, hubs)
    end_a, end_b = _match_stubs(rng, degrees, channel_count)
    pubkeys = _pubkeys(seed, node_count)
    rank = np.argsort(np.argsort(np.array(pubkeys)))
    node1 = np.where(rank[end_a] < rank[end_b], end_a, end_b)  # LND: node1 is the smaller pubkey
    node2 = np.where(rank[end_a] < rank[end_b], end_b, end_a)
    capacity = _capacities(rng, degrees[node1], degrees[node2])
    scids = short_channel_ids(rng, channel_count, block_height_at(SNAPSHOT_NOW_S))
    order = np.argsort(scids)  # LND lists edges in channel-id order
    node1, node2, capacity, scids = node1[order], node2[order], capacity[order], scids[order]
    enabled1, enabled2 = _enabled_directions(rng, degrees[node1], degrees[node2])
    aliases = [name for name, _ in HUBS[: len(hubs)]]
    aliases += [f"synthetic-node-{i:05d}" for i in range(len(hubs), node_count)]
    nodes = [
        {"last_update": 0, "pub_key": pubkey, "alias": alias, "addresses": [], "color": "#000000",
         "features": {}, "custom_records": {}}
        for pubkey, alias in zip(pubkeys, aliases, strict=True)
    ]  # fmt: skip
    policies1 = _policy_dicts(rng, node1, capacity, enabled1, degrees)
    policies2 = _policy_dicts(rng, node2, capacity, enabled2, degrees)
    points = chan_points(f"graph:{seed}", scids)
    edges = [
        {"channel_id": str(scid), "chan_point": point, "last_update": 0, "node1_pub": pubkeys[a],
         "node2_pub": pubkeys[b], "capacity": str(cap), "node1_policy": p1, "node2_policy": p2,
         "custom_records": {}}
        for scid, point, a, b, cap, p1, p2 in zip(
            scids.tolist(), points, node1.tolist(), node2.tolist(), capacity.tolist(), policies1, policies2,
            strict=True,
        )
    ]  # fmt: skip
    return {"nodes": nodes, "edges": edges, "_meta": _meta(seed, node_count, channel_count)}


def generate_graph(
    seed: int = 7, node_count: int = SNAPSHOT_NODES, channel_count: int = SNAPSHOT_CHANNELS
) -> ChannelGraph:
    """The synthetic graph of `generate_graph_document`, parsed into a ChannelGraph flagged synthetic."""
    document = generate_graph_document(seed, node_count, channel_count)
    return parse_graph(document, source=f"synthetic(seed={seed})", synthetic=True)


def block_height_at(timestamp_s: int) -> int:
    """Approximate mainnet block height at a unix time (600 s blocks from the snapshot's tip)."""
    return SNAPSHOT_HEIGHT + (timestamp_s - SNAPSHOT_NOW_S) // BLOCK_INTERVAL_S


def short_channel_ids(rng: np.random.Generator, count: int, tip_height: int) -> IntArray:
    """Unique realistic short channel ids (block<<40 | tx<<16 | output), recent blocks more likely."""
    newest = tip_height - 6  # a channel is announced after 6 confirmations
    span = max(1, newest - FIRST_CHANNEL_HEIGHT)
    # u**1.6 skews towards young channels: old ones are closed over the years.
    blocks = newest - np.floor(span * rng.random(count) ** 1.6).astype(np.int64)
    outputs = rng.choice(4, size=count, p=[0.55, 0.35, 0.07, 0.03]).astype(np.int64)
    scids = np.zeros(count, dtype=np.int64)
    todo = np.arange(count)
    while len(todo):  # redraw the transaction index of the rare collisions
        txs = 1 + np.floor(3_999 * rng.random(len(todo)) ** 2).astype(np.int64)
        scids[todo] = (blocks[todo] << 40) | (np.minimum(txs, 3_999) << 16) | outputs[todo]
        _, first = np.unique(scids, return_index=True)
        duplicate = np.ones(count, dtype=bool)
        duplicate[first] = False
        todo = np.flatnonzero(duplicate)
    return scids


def chan_points(salt: str, scids: IntArray) -> list[str]:
    """Funding outpoints `<txid>:<output>`: txid from sha256(salt, scid), output from the scid."""
    return [
        f"{hashlib.sha256(f'{salt}:{scid}'.encode()).hexdigest()}:{scid & 0xFFFF}" for scid in scids.tolist()
    ]


def _hub_degrees(node_count: int, channel_count: int) -> list[int]:
    """The named hubs' degrees, scaled down for smaller graphs so they keep their share of the channels."""
    scale = min(1.0, channel_count / SNAPSHOT_CHANNELS)
    return [max(2, min(node_count // 2, round(degree * scale))) for _, degree in HUBS]


def _degree_sequence(rng: np.random.Generator, nodes: int, channels: int, hubs: list[int]) -> IntArray:
    """Hub degrees plus truncated-Pareto degrees for the rest: exactly 2*channels stubs, all >= 1."""
    rest = nodes - len(hubs)
    target = 2 * channels - sum(hubs)
    cap = max(2, int(0.92 * min(hubs)))  # the named hubs stay the largest nodes
    # Stratified uniforms keep the heavy-tailed sum stable, so the exponent search below is reliable.
    u = (np.arange(rest) + rng.random(rest)) / rest
    rng.shuffle(u)

    def draw(alpha: float) -> IntArray:
        # Inverse CDF of a Pareto truncated at `cap`: a smooth tail instead of a pile of nodes at the cap.
        values = np.floor((1.0 - (1.0 - u) * (1.0 - cap**-alpha)) ** (-1.0 / alpha))
        return np.asarray(values, dtype=np.int64)

    low, high = 0.3, 6.0  # the snapshot's density gives alpha ~1.1: 54 % of nodes with one channel
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if draw(mid).sum() > target else (low, mid)
    degrees = draw(high)
    for _ in range(1_000):  # spread the small remainder proportionally to the degrees
        diff = int(target - degrees.sum())
        if diff == 0:
            break
        weights = (degrees * (degrees < cap) if diff > 0 else degrees - 1).astype(np.float64)
        picks = rng.choice(rest, size=abs(diff), p=weights / weights.sum())
        np.add.at(degrees, picks, 1 if diff > 0 else -1)
        degrees = np.clip(degrees, 1, cap)
    return np.concatenate([np.array(hubs, dtype=np.int64), degrees])


def _match_stubs(rng: np.random.Generator, degrees: IntArray, channels: int) -> tuple[IntArray, IntArray]:
    """Configuration model: pair shuffled stubs, swap ends until no self-loop or parallel edge remains."""
    stubs = np.repeat(np.arange(len(degrees), dtype=np.int64), degrees)
    rng.shuffle(stubs)
    end_a, end_b = stubs[0::2].copy(), stubs[1::2].copy()
    node_count = len(degrees)
    for _ in range(500):
        low, high = np.minimum(end_a, end_b), np.maximum(end_a, end_b)
        _, first = np.unique(low * node_count + high, return_index=True)
        bad = np.ones(channels, dtype=bool)
        bad[first] = False
        bad |= low == high
        bad_ids = np.flatnonzero(bad)
        if len(bad_ids) == 0:
            return end_a, end_b
        partners = rng.choice(np.flatnonzero(~bad), size=len(bad_ids), replace=False)
        # Swapping one end between two edges keeps every node's degree.
        end_b[bad_ids], end_b[partners] = end_b[partners], end_b[bad_ids].copy()
    raise RuntimeError("stub matching did not converge; the degree sequence is too dense")


def _pubkeys(seed: int, count: int) -> list[str]:
    """Deterministic, unique, valid-looking compressed pubkeys (02/03 + sha256 hex)."""
    keys = []
    for i in range(count):
        digest = hashlib.sha256(f"synthetic-node:{seed}:{i}".encode()).hexdigest()
        keys.append(("02" if int(digest[-1], 16) % 2 == 0 else "03") + digest)
    return keys


def _capacities(rng: np.random.Generator, degrees1: IntArray, degrees2: IntArray) -> IntArray:
    """Split log-normal capacities (median 1.28 M sat, 10 BTC max), bigger between well-connected nodes."""
    count = len(degrees1)
    z = rng.standard_normal(count)
    log_cap = np.log(MEDIAN_CAPACITY_SAT) + np.where(z < 0, 2.6, 2.1) * z
    # Operators pick round sizes (1 M, 5 M, 20 k ...): snap most of them to 1-2 significant digits.
    log_cap = np.where(rng.random(count) < 0.6, _snap_nice(log_cap), log_cap)
    values = np.sort(np.clip(np.exp(log_cap), MIN_CAPACITY_SAT, MAX_CAPACITY_SAT).astype(np.int64))
    values[-1] = MAX_CAPACITY_SAT
    # Rank coupling keeps the marginal exact while hubs get the big channels, as in the snapshot.
    score = 0.5 * np.log(degrees1 * degrees2) + 2.0 * rng.standard_normal(count)
    capacity = np.empty(count, dtype=np.int64)
    capacity[np.argsort(score)] = values
    return capacity


def _snap_nice(log_values: FloatArray) -> FloatArray:
    """Round values (given as logs) to the nearest `mantissa x 10^k` with a nice mantissa."""
    exponent = np.floor(log_values / np.log(10))
    mantissa = np.exp(log_values - exponent * np.log(10))
    nearest = NICE_MANTISSAS[
        np.abs(np.log(mantissa)[:, None] - np.log(NICE_MANTISSAS)[None, :]).argmin(axis=1)
    ]
    return np.asarray(np.log(nearest) + exponent * np.log(10), dtype=np.float64)


def _enabled_directions(
    rng: np.random.Generator, degrees1: IntArray, degrees2: IntArray
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Which directions are enabled: a third of the channels are dead, mostly those of small nodes."""
    count = len(degrees1)
    score = -np.log(np.minimum(degrees1, degrees2)) + 1.2 * rng.standard_normal(count)
    dead = np.zeros(count, dtype=bool)
    dead[np.argsort(-score)[: round(DEAD_CHANNEL_SHARE * count)]] = True
    alive = np.flatnonzero(~dead)
    half = rng.choice(alive, size=round(HALF_DEAD_SHARE * count), replace=False)
    side = rng.random(len(half)) < 0.5
    enabled1, enabled2 = ~dead, ~dead
    enabled1[half[side]] = False
    enabled2[half[~side]] = False
    return enabled1, enabled2


def _per_node_uniforms(
    rng: np.random.Generator, owners: IntArray, node_count: int, own_share: float | FloatArray
) -> FloatArray:
    """Uniform draws where a share of the channels follows its node's default (operators reuse settings)."""
    node_default = rng.random(node_count)[owners]
    return np.where(rng.random(len(owners)) < own_share, rng.random(len(owners)), node_default)


def _fee_rates(rng: np.random.Generator, u: FloatArray) -> IntArray:
    """Inverse of the snapshot's fee-rate distribution, with most values snapped to round numbers."""
    knots_u = np.array([k[0] for k in FEE_RATE_KNOTS])
    knots_log = np.log(np.array([k[1] for k in FEE_RATE_KNOTS]))
    logs = np.interp(u, knots_u, knots_log)
    logs = np.where(rng.random(len(u)) < 0.7, _snap_nice(logs), logs)
    rates = np.rint(np.exp(logs)).astype(np.int64)
    return np.where(u < 0.069, 0, np.where(u < 0.291, 1, rates))


def _atoms(u: FloatArray, table: tuple[tuple[int, float], ...]) -> IntArray:
    """Inverse CDF of a discrete distribution given as (value, weight) pairs."""
    weights = np.array([w for _, w in table])
    cumulative = np.cumsum(weights / weights.sum())
    index = np.minimum(np.searchsorted(cumulative, u, side="right"), len(table) - 1)
    return np.array([v for v, _ in table], dtype=np.int64)[index]


def _policy_dicts(
    rng: np.random.Generator,
    owners: IntArray,
    capacity: IntArray,
    enabled: npt.NDArray[np.bool_],
    degrees: IntArray,
) -> list[dict[str, Any]]:
    """LND policy objects; disabled directions carry zeros (max_htlc = capacity) exactly like the snapshot."""
    nodes = len(degrees)
    # Big routing nodes price channel by channel (fee automation); one default for a hub's thousands of
    # channels would also swing the network-wide fee quantiles.
    own_rate = 0.5 + 0.5 * degrees[owners] / (degrees[owners] + 50.0)
    rate = _fee_rates(rng, _per_node_uniforms(rng, owners, nodes, own_rate))
    own_base = 0.2 + 0.6 * degrees[owners] / (degrees[owners] + 100.0)
    base = _atoms(_per_node_uniforms(rng, owners, nodes, own_base), BASE_FEES)
    cltv = _atoms(_per_node_uniforms(rng, owners, nodes, 0.08), CLTV_DELTAS)
    min_htlc = np.where(_per_node_uniforms(rng, owners, nodes, 0.05) < 0.87, 1_000, 1)
    max_htlc = np.where(rng.random(len(owners)) < 0.9, capacity * 990, capacity * 1_000)
    rate, base, cltv, min_htlc = (np.where(enabled, column, 0) for column in (rate, base, cltv, min_htlc))
    max_htlc = np.where(enabled, max_htlc, capacity * 1_000)
    return [
        {"time_lock_delta": t, "min_htlc": str(mn), "fee_base_msat": str(b), "fee_rate_milli_msat": str(r),
         "disabled": not on, "max_htlc_msat": str(mx), "last_update": 0, "custom_records": {},
         "inbound_fee_base_msat": 0, "inbound_fee_rate_milli_msat": 0}
        for t, mn, b, r, on, mx in zip(
            cltv.tolist(), min_htlc.tolist(), base.tolist(), rate.tolist(), enabled.tolist(),
            max_htlc.tolist(), strict=True,
        )
    ]  # fmt: skip


def _meta(seed: int, node_count: int, channel_count: int) -> dict[str, Any]:
    """The `_meta` block: says loudly that the document is synthetic and what it imitates."""
    return {
        "synthetic": True,
        "source": f"SYNTHETIC: app.graph.synthetic.generate_graph_document(seed={seed})",
        "seed": seed,
        "imitates": "describegraph-2026-02-03 (mainnet snapshot from ElementsProject/lightning test data)",
        "snapshot_date": "2026-02-03",
        "format": "LND REST /v1/graph (lnrpc.ChannelGraph) shape, proto field names, int64/uint64 as strings",
        "counts": {"nodes": node_count, "channels": channel_count},
        "caveats": [
            f"SYNTHETIC graph (seed {seed}): nodes, channels and policies are generated, not real",
            "statistics imitate the 2026-02-03 snapshot: power-law degrees, capacity and fee quantiles",
            "channel_id and chan_point are generated but shaped like real ones; all last_update fields 0",
            "no parallel channels (the snapshot has 1,820 node pairs with parallel channels)",
            "disabled directions have all policy numbers zeroed, as in the snapshot; inbound fees 0",
        ],
    }
