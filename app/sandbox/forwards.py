"""SIMULATED forwarding history and policy-change history of a sandbox node, vectorised with numpy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from app.domain.channel import Channel
from app.domain.forwarding import ForwardingEvent, PolicyChange
from app.graph.model import ChannelGraph
from app.sandbox.channels import SimulatedChannels

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

NS = 1_000_000_000
DAY_S = 86_400
# About one forward per channel per day: an ACINQ-sized node (1,989 channels) sees ~62,000 in 30 days.
FORWARDS_PER_CHANNEL_DAY = 1.1
MEDIAN_AMOUNT_MSAT = 50_000_000  # 50,000 sat
RECENT_DAYS = 7


def simulate_forwards(
    rng: np.random.Generator, graph: ChannelGraph, sim: SimulatedChannels, now_s: int, days: int
) -> list[ForwardingEvent]:
    """`days` days of settled forwards ending at `now_s`, sorted by time; some channels stay idle."""
    channels = sim.channels
    count = len(channels)
    if count < 2:
        return []  # a forward needs two different channels
    capacity = np.array([c.capacity_sat for c in channels], dtype=np.float64)
    local_msat = np.array([c.local_balance_sat for c in channels], dtype=np.int64) * 1_000
    remote_ratio = np.array([1 - c.local_ratio for c in channels])
    weight, idle, recent_idle = _channel_weights(rng, graph, sim, capacity)
    start_s = now_s - days * DAY_S
    opened_s = np.maximum(now_s - sim.age_s, start_s)
    # Incoming side: a Poisson count per channel, busier with a busy peer and liquidity on the peer's side.
    in_weight = weight * (0.25 + remote_ratio)
    expected = FORWARDS_PER_CHANNEL_DAY * count * days * in_weight / max(float(in_weight.sum()), 1e-12)
    incoming = np.repeat(np.arange(count), rng.poisson(expected))
    window_end_s = np.where(recent_idle, max(now_s - RECENT_DAYS * DAY_S, start_s), now_s)[incoming]
    window_start_s = np.minimum(opened_s[incoming], window_end_s)
    span_ns = (window_end_s - window_start_s) * NS
    timestamps = window_start_s * NS + np.floor(rng.random(len(incoming)) * span_ns).astype(np.int64)
    # Outgoing side: weighted by activity and local balance; channels idle lately are skipped lately.
    out_weight = weight * local_msat
    recent = timestamps >= (now_s - RECENT_DAYS * DAY_S) * NS
    outgoing = np.empty(len(incoming), dtype=np.int64)
    for mask, weights in ((~recent, out_weight), (recent, np.where(recent_idle, 0.0, out_weight))):
        outgoing[mask] = _pick_other(rng, weights, incoming[mask])
    # Both channels must exist at the time: a young channel may not have been open yet.
    valid = (outgoing >= 0) & (outgoing != incoming) & (timestamps >= opened_s[incoming] * NS)
    valid[valid] &= ~idle[outgoing[valid]] & (timestamps[valid] >= opened_s[outgoing[valid]] * NS)
    incoming, outgoing, timestamps = incoming[valid], outgoing[valid], timestamps[valid]
    amount = _amounts(rng, channels, outgoing, local_msat)
    fits = amount > 0
    incoming, outgoing, timestamps, amount = incoming[fits], outgoing[fits], timestamps[fits], amount[fits]
    base = np.array([c.local_policy.base_fee_msat if c.local_policy else 0 for c in channels], dtype=np.int64)
    rate = np.array([c.local_policy.fee_rate_ppm if c.local_policy else 0 for c in channels], dtype=np.int64)
    fee = base[outgoing] + amount * rate[outgoing] // 1_000_000  # LND's outbound fee, rounded down
    order = np.argsort(timestamps, kind="stable")
    ids = [c.chan_id for c in channels]
    return [
        ForwardingEvent(
            timestamp_ns=ts,
            chan_id_in=ids[i],
            chan_id_out=ids[o],
            amt_in_msat=a + f,
            amt_out_msat=a,
            fee_msat=f,
        )
        for ts, i, o, a, f in zip(
            timestamps[order].tolist(),
            incoming[order].tolist(),
            outgoing[order].tolist(),
            amount[order].tolist(),
            fee[order].tolist(),
            strict=True,
        )
    ]


def _channel_weights(
    rng: np.random.Generator, graph: ChannelGraph, sim: SimulatedChannels, capacity: FloatArray
) -> tuple[FloatArray, BoolArray, BoolArray]:
    """Activity weight per channel, the fully idle channels, and those idle for the last week only."""
    count = len(capacity)
    peer_size = np.log1p(graph.degrees[sim.peers]) + 0.5 * np.log1p(graph.node_capacity_sat[sim.peers] / 1e8)
    weight = peer_size * (capacity / 1e6) ** 0.35 * rng.lognormal(0.0, 0.7, count)
    # 20-30 % never forward: mostly the small channels to small peers, with some luck involved.
    idle_count = round(rng.uniform(0.20, 0.30) * count)
    idle = np.zeros(count, dtype=bool)
    idle[np.argsort(np.log(weight + 1e-9) + rng.normal(0.0, 1.0, count))[:idle_count]] = True
    weight = np.where(idle, 0.0, weight)
    # Offline peers and ~10 % of the rest went quiet during the last week.
    active = np.array([c.active for c in sim.channels])
    recent_idle = ~idle & (~active | (rng.random(count) < 0.10))
    return weight, idle, recent_idle


def _pick_other(rng: np.random.Generator, weights: FloatArray, exclude: IntArray) -> IntArray:
    """For each entry of `exclude`, a channel drawn by weight among the others; -1 when none is left."""
    cumulative = np.cumsum(weights)
    total = cumulative[-1] if len(cumulative) else 0.0
    own = weights[exclude]
    room = total - own
    # Draw in the total minus the excluded weight, then jump over the excluded channel's interval.
    u = rng.random(len(exclude)) * room
    u = np.where(u >= cumulative[exclude] - own, u + own, u)
    picked = np.minimum(np.searchsorted(cumulative, u, side="right"), len(weights) - 1).astype(np.int64)
    ok = (room > 0) & (weights[picked] > 0)
    return np.where(ok, picked, -1)


def _amounts(
    rng: np.random.Generator, channels: list[Channel], outgoing: IntArray, local_msat: IntArray
) -> IntArray:
    """Log-normal amounts (median 50,000 sat) that fit the outgoing channel's balance and HTLC limits."""
    policies = [c.local_policy for c in channels]
    max_htlc = np.array([p.max_htlc_msat if p else 0 for p in policies], dtype=np.int64)[outgoing]
    min_htlc = np.array([p.min_htlc_msat if p else 0 for p in policies], dtype=np.int64)[outgoing]
    balance = local_msat[outgoing]
    limit = np.where(max_htlc > 0, np.minimum(max_htlc, balance), balance)  # LND ignores a max_htlc of 0
    amount = np.floor(MEDIAN_AMOUNT_MSAT * rng.lognormal(0.0, 1.4, len(outgoing))).astype(np.int64)
    floor = np.maximum(min_htlc, 1)
    amount = np.minimum(np.maximum(amount, floor), limit)
    return np.where(amount >= floor, amount, 0)  # 0: the channel cannot carry even the minimum HTLC


def simulate_policy_changes(
    rng: np.random.Generator, sim: SimulatedChannels, now_s: int, days: int
) -> list[PolicyChange]:
    """Past fee updates: mostly 0-2 per channel, a few busy ones, some within 24 h; newest = current fee."""
    channels = sim.channels
    count = len(channels)
    busy = rng.random(count) < 0.05
    changes = np.where(
        busy, rng.integers(5, 11, count), rng.choice(5, size=count, p=[0.4, 0.32, 0.18, 0.06, 0.04])
    )
    start_s = np.maximum(now_s - days * DAY_S, now_s - sim.age_s)
    fresh = rng.random(count) < 0.15  # the latest change within 24 h, so cooldowns bite in the demo
    records: list[PolicyChange] = []
    for i, channel in enumerate(channels):
        n = int(changes[i])
        if n == 0 or channel.local_policy is None:
            continue
        begin = int(start_s[i])
        moments = begin + np.sort(rng.choice(now_s + 1 - begin, size=n, replace=False))  # distinct seconds
        if fresh[i]:
            moments[-1] = max(int(moments[-1]), now_s - int(rng.integers(0, DAY_S)), begin)
        rate = channel.local_policy.fee_rate_ppm
        # Walk back from the current fee: each older update was a nudge of roughly +-30 %.
        history = [rate]
        for _ in range(n - 1):
            previous = history[-1]
            step = rng.lognormal(0.0, 0.3)
            history.append(round(previous * step) if previous else int(rng.choice([0, 1, 5, 10])))
        for moment, fee in zip(moments.tolist(), reversed(history), strict=True):
            records.append(PolicyChange(chan_id=channel.chan_id, changed_at_s=moment, fee_rate_ppm=fee))
    records.sort(key=lambda change: (change.changed_at_s, change.chan_id))
    return records
