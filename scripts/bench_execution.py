"""Benchmark live execution against the LND REST simulator over real HTTP, with the Mongo-wire server.

Usage: .venv/bin/python scripts/bench_execution.py [--node ACINQ] [--channels 200] [--repeat 3]

1. A live batch of --channels fee changes (gate on a fresh bulk read, budget, journal, backup, writes,
   bulk read-back, effects): channels per second and node calls per channel, next to a baseline measured
   in the same run: the same number of bare writes plus one bulk read, with no journal, gate or proof.
   Both with the per-node rate limit lifted (to measure the service), and once at the default 10 req/s.
2. Recovery of the whole node after a kill: a transaction with every channel of the node left `sent`
   (half of the writes had landed), resumed by the recovery driver in its two passes (the landed writes
   at once, the others after the settle time, which is skipped on the clock and not measured); next to
   the baseline of one bulk read of every channel's policy in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from app.domain.decision import Decision, DecisionKind
from app.domain.execution import ChannelOutcome, ExecutionMode, TransactionKind, TransactionState
from app.domain.policy import ChannelPolicy, PolicyReading
from app.domain.scoring import ScoreBreakdown
from app.graph.source import resolve_graph
from app.nodes.lnd_rest import LndRestClient
from app.nodes.transport import TransportSettings
from app.policy.driver import DriverSettings, Journal, TransactionDriver
from app.policy.effects import TransactionEffects
from app.policy.executor import BatchIntent, Executor, Proposal
from app.policy.gate import ChangeHistory
from app.policy.limits import SafetyLimits
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator
from app.sandbox.state import generate_sandbox_state
from app.settings import Settings, get_settings
from app.storage.database import Storage, open_storage
from app.storage.execution_records import JournalEntry, TransactionRecord

LIFTED = TransportSettings(requests_per_second=100_000)
LIMITS = SafetyLimits(daily_cap=1_000_000)
TENANT, NODE = "bench", "bench-node"


class BenchClock:
    """The benchmark's clock: moved two days ahead before each batch, so every channel is out of cooldown."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def fee_decision(chan_id: str, current: ChannelPolicy, fee_rate_ppm: int) -> Decision:
    """A fee-rate decision as the engine would make it (scores are not what is measured here)."""
    kind = DecisionKind.RAISE_FEE if fee_rate_ppm > current.fee_rate_ppm else DecisionKind.LOWER_FEE
    return Decision(
        chan_id=chan_id,
        kind=kind,
        current_policy=current,
        proposed_policy=current.model_copy(update={"fee_rate_ppm": fee_rate_ppm}),
        confidence=0.8,
        total_score=0.5,
        breakdown=ScoreBreakdown(chan_id=chan_id, total=0.5, known_weight=1.0, scores=[]),
        reasons=["benchmark"],
    )


def proposals_for(sim: SimulatorHandle, count: int, rng: random.Random, now_s: int) -> list[Proposal]:
    """Fee changes of +/- 20 % on `count` channels within the default limits and out of cooldown."""
    chosen = []
    for live in sim.node.channels.values():
        policy = ChannelPolicy(**live.policy.__dict__)
        step = max(10, policy.fee_rate_ppm // 5)
        if (
            live.policy_updated_s > now_s - LIMITS.cooldown_s
            or policy.base_fee_msat > LIMITS.base_fee_max_msat
        ):
            continue
        if not LIMITS.time_lock_delta_min <= (policy.time_lock_delta or 0) <= LIMITS.time_lock_delta_max:
            continue
        target = (
            policy.fee_rate_ppm + step
            if policy.fee_rate_ppm + step <= LIMITS.fee_rate_max_ppm
            else (policy.fee_rate_ppm - step)
        )
        channel = live.channel.model_copy(
            update={"local_policy": policy, "policy_updated_s": live.policy_updated_s}
        )
        chosen.append(Proposal(channel, fee_decision(channel.chan_id, policy, target)))
    rng.shuffle(chosen)
    return chosen[:count]


async def journaled_batch(
    storage: Storage,
    sim: SimulatorHandle,
    transport: TransportSettings,
    count: int,
    clock: BenchClock,
    seed: int,
) -> tuple[float, int, TransactionRecord]:
    """One live batch through the executor; (seconds, node calls, transaction)."""
    client = LndRestClient("bench", sim.url, sim.macaroons.fees, settings=transport)
    await client.get_info()  # the pubkey is known to a live client: not part of the batch
    clock.now += timedelta(days=2)
    proposals = proposals_for(sim, count, random.Random(seed), int(clock.now.timestamp()))
    effects = TransactionEffects(storage, clock)
    executor = Executor(storage, client, LIMITS, clock, DriverSettings(), effects)
    intent = BatchIntent(TENANT, NODE, "bench", TransactionKind.APPLY, "benchmark", ExecutionMode.LIVE)
    before = client.requests_made
    started = time.perf_counter()
    report = await executor.apply(intent, proposals, ChangeHistory(times={}, external={}))
    elapsed = time.perf_counter() - started
    calls = client.requests_made - before
    await client.aclose()
    assert report.transaction is not None and report.transaction.state is TransactionState.COMMITTED, report
    return elapsed, calls, report.transaction


async def bare_writes(sim: SimulatorHandle, count: int, seed: int, now_s: int) -> tuple[float, int]:
    """The baseline: the same number of writes sent one after another, then one bulk read; no journal."""
    client = LndRestClient("bench", sim.url, sim.macaroons.fees, settings=LIFTED)
    await client.get_info()
    proposals = proposals_for(sim, count, random.Random(seed), now_s)
    before = client.requests_made
    started = time.perf_counter()
    for proposal in proposals:
        await client.update_channel_policy(proposal.channel, proposal.decision.proposed_policy)
    await client.read_policies([proposal.channel for proposal in proposals])
    elapsed = time.perf_counter() - started
    calls = client.requests_made - before
    await client.aclose()
    return elapsed, calls


async def recovery_of_whole_node(
    storage: Storage, sim: SimulatorHandle, clock: BenchClock
) -> tuple[float, float, int, int]:
    """(recovery seconds, bulk-read baseline seconds, node calls, channels) for a node-wide interrupted batch."""
    client = LndRestClient("bench", sim.url, sim.macaroons.fees, settings=LIFTED)
    await client.get_info()
    channels = [live.channel for live in sim.node.channels.values()]
    started = time.perf_counter()
    readings: dict[str, PolicyReading] = await client.read_policies(channels)
    baseline = time.perf_counter() - started
    transaction = TransactionRecord(
        tenant_id=TENANT, node_id=NODE, kind=TransactionKind.RESTORE, actor="bench", reason="killed mid-apply",
        channel_count=len(channels), created_at=clock(), updated_at=clock(),
    )  # fmt: skip
    await storage.transactions.add(transaction)
    entries = []
    for index, channel in enumerate(channels):
        before = readings[channel.chan_id].policy
        target = before.model_copy(update={"fee_rate_ppm": before.fee_rate_ppm + 1})
        entries.append(
            JournalEntry(
                id=JournalEntry.entry_id(transaction.id, channel.chan_id),
                tenant_id=TENANT,
                node_id=NODE,
                transaction_id=transaction.id,
                chan_id=channel.chan_id,
                channel_point=channel.channel_point,
                before=before,
                target=target,
            )
        )
        if index % 2 == 0:  # half the writes landed before the kill
            await client.update_channel_policy(channel, target, before)
    await storage.journal.add_many(entries)
    journal = Journal(storage.transactions, storage.journal, storage.backups)
    transaction = await storage.transactions.advance(transaction, TransactionState.BACKED_UP)
    transaction = await storage.transactions.advance(transaction, TransactionState.APPLYING)
    an_hour_ago = clock() - timedelta(hours=1)
    sent = {"outcome": ChannelOutcome.SENT, "attempts": 1, "sent_at": an_hour_ago}
    await storage.journal.record([(entry, entry.model_copy(update=sent)) for entry in entries])
    settings = DriverSettings()
    driver = TransactionDriver(journal, client, clock, settings, TransactionEffects(storage, clock))
    calls_before = client.requests_made
    started = time.perf_counter()
    # First look: the landed writes are proven; the others are unknown until no late write could land.
    waiting = await driver.drive(transaction, resume=True)
    clock.now += timedelta(seconds=settings.unknown_settle_s + 1)  # the settle time, not measured
    done = await driver.drive(waiting, resume=True)
    elapsed = time.perf_counter() - started
    calls = client.requests_made - calls_before
    await client.aclose()
    assert done.state is TransactionState.COMMITTED and done.effects_done, done
    assert done.counts == {"applied": (len(channels) + 1) // 2, "not_applied": len(channels) // 2}, (
        done.counts
    )
    return elapsed, baseline, calls, len(channels)


async def main() -> int:
    """Run the three measurements and print them with their ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--node", default="ACINQ")
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = get_settings()
    graph = resolve_graph(settings.graph_file, settings.synthetic_graph_seed)
    node = graph.find_node(args.node)
    state = generate_sandbox_state(graph, node, seed=settings.sandbox_seed, now_s=int(time.time()))
    print(
        f"graph {graph.source}{' [SYNTHETIC]' if graph.synthetic else ''}; node {graph.aliases[node]}: "
        f"{len(state.channels)} channels (simulated), batch of {args.channels}",
        flush=True,
    )
    storage = await open_storage(Settings(mongodb_database="bench_execution"), in_memory=True)
    clock = BenchClock()
    try:
        async with running_simulator(SimulatedNode(state, graph)) as sim:
            bare, journaled = [], []
            calls_bare = calls_journaled = 0
            for run in range(args.repeat):
                seconds, calls_bare = await bare_writes(
                    sim, args.channels, 100 + run, int(time.time()) + 10**6
                )
                bare.append(seconds)
                seconds, calls_journaled, _ = await journaled_batch(
                    storage, sim, LIFTED, args.channels, clock, run
                )
                journaled.append(seconds)
            throttled, throttled_calls, _ = await journaled_batch(
                storage, sim, TransportSettings(), args.channels, clock, 99
            )
            recovery, read_all, recovery_calls, channels = await recovery_of_whole_node(storage, sim, clock)
    finally:
        await storage.close()
    bare_s, journaled_s = statistics.median(bare), statistics.median(journaled)
    print(
        f"bare writes + one bulk read (baseline): {bare_s:6.3f} s  {args.channels / bare_s:7.1f} ch/s  "
        f"{calls_bare / args.channels:.2f} calls/ch"
    )
    print(
        f"journaled live batch, rate limit lifted: {journaled_s:6.3f} s  {args.channels / journaled_s:7.1f} ch/s  "
        f"{calls_journaled / args.channels:.2f} calls/ch  ({journaled_s / bare_s:.2f}x the baseline's time)"
    )
    print(
        f"journaled live batch, default 10 req/s: {throttled:6.3f} s  {args.channels / throttled:7.1f} ch/s  "
        f"{throttled_calls / args.channels:.2f} calls/ch"
    )
    print(f"recovery of {channels} channels left sent by a kill: {recovery:6.3f} s  "
          f"{channels / recovery:7.1f} ch/s  {recovery_calls} calls ({recovery_calls / channels:.3f} calls/ch); "
          f"one bulk read of every policy: {read_all:.3f} s ({recovery / read_all:.1f}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
