"""Execution tests' world: a simulated LND hub over HTTP, the Mongo-wire server, and a clock the test moves."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from app.domain.channel import Channel
from app.domain.decision import DecisionKind
from app.domain.execution import ChannelOutcome, ExecutionMode, TransactionKind
from app.domain.policy import ChannelPolicy
from app.graph.model import ChannelGraph
from app.graph.synthetic import generate_graph
from app.nodes.lnd_rest import LndRestClient
from app.nodes.transport import TransportSettings
from app.policy.driver import DriverSettings, Journal, TransactionDriver
from app.policy.effects import TransactionEffects
from app.policy.executor import BatchIntent, Executor, Proposal
from app.policy.gate import ChangeHistory
from app.policy.limits import SafetyLimits, ValidationContext
from app.policy.validator import PolicyValidator
from app.resilience.circuit import CircuitSettings
from app.resilience.retry import RetrySettings
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import SimulatorHandle, running_simulator
from app.sandbox.state import generate_sandbox_state
from app.storage.database import Storage
from app.storage.execution_records import JournalEntry, TransactionRecord
from tests.policy.conftest import build_decision

HUB_SEED = 11
FAST_TRANSPORT = TransportSettings(
    connect_timeout_s=1.0,
    read_timeout_s=0.4,
    requests_per_second=10_000,
    retry=RetrySettings(attempts=3, initial_s=0.01, max_s=0.05, jitter_s=0.01),
    circuit=CircuitSettings(consecutive_failures=1_000, failure_ratio=1.0, cooldown_s=0.05),
)
# Every limit as in production, but a daily cap the tests' many batches never meet.
TEST_LIMITS = SafetyLimits(daily_cap=1_000_000)


@dataclass
class FakeClock:
    """Time as the test says: starts at the real now, moves only when told."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += timedelta(seconds=seconds)


def hub_graph() -> ChannelGraph:
    """A synthetic graph whose biggest hub has about 200 channels."""
    return generate_graph(seed=HUB_SEED, node_count=1_500, channel_count=5_000)


def as_domain(policy: object) -> ChannelPolicy:
    """The simulator's stored policy as a domain policy."""
    return ChannelPolicy(**dataclasses.asdict(policy))  # type: ignore[call-overload]


@dataclass
class ExecutionEnv:
    """Storage, a simulated node over HTTP, a client to it and a fake clock."""

    storage: Storage
    handle: SimulatorHandle
    client: LndRestClient
    clock: FakeClock
    tenant_id: str = "tenant-x"
    node_id: str = "node-x"

    def use_transport(self, transport: httpx.AsyncBaseTransport) -> None:
        """Talk to the node through `transport` from now on (to watch or meddle with the traffic)."""
        self.client = LndRestClient(
            "hub", self.handle.url, self.handle.macaroons.fees, settings=FAST_TRANSPORT, transport=transport
        )

    def on_node(self, chan_id: str) -> ChannelPolicy:
        """What the simulated node holds for a channel right now (read in-process, not over HTTP)."""
        return as_domain(self.handle.node.channels[chan_id].policy)

    def channels(self) -> list[Channel]:
        """Every channel with its current policy and gossip timestamp, as a sync would see them."""
        return [
            live.channel.model_copy(
                update={"local_policy": as_domain(live.policy), "policy_updated_s": live.policy_updated_s}
            )
            for live in self.handle.node.channels.values()
        ]

    def writable(self, count: int, rng: random.Random) -> list[Channel]:
        """`count` random channels a fee change may be written to: out of cooldown, policy within the limits."""
        now_s = int(self.clock().timestamp())
        validator = PolicyValidator(TEST_LIMITS)
        eligible = [
            c
            for c in self.channels()
            if (c.policy_updated_s or 0) < now_s - TEST_LIMITS.cooldown_s
            and not validator.policy_issues(c.local_policy, ValidationContext.for_channel(c, now_s))
        ]
        assert len(eligible) >= count, f"only {len(eligible)} channels can be written"
        return rng.sample(eligible, count)

    def executor(
        self,
        limits: SafetyLimits = TEST_LIMITS,
        settings: DriverSettings | None = None,
        keep_going: Callable[[], Awaitable[bool]] | None = None,
    ) -> Executor:
        """An executor on this node with effects."""
        effects = TransactionEffects(self.storage, self.clock)
        return Executor(
            self.storage, self.client, limits, self.clock, settings or DriverSettings(), effects, keep_going
        )

    def driver(self, settings: DriverSettings | None = None) -> TransactionDriver:
        """A driver as recovery builds it."""
        journal = Journal(self.storage.transactions, self.storage.journal, self.storage.backups)
        effects = TransactionEffects(self.storage, self.clock)
        return TransactionDriver(journal, self.client, self.clock, settings or DriverSettings(), effects)

    def intent(self, kind: TransactionKind = TransactionKind.APPLY) -> BatchIntent:
        """A live batch by a test actor."""
        return BatchIntent(
            tenant_id=self.tenant_id,
            node_id=self.node_id,
            actor="test",
            kind=kind,
            reason="test batch",
            mode=ExecutionMode.LIVE if kind is TransactionKind.APPLY else None,
        )

    async def entries(self, transaction: TransactionRecord) -> list[JournalEntry]:
        """The transaction's journal."""
        return await self.storage.journal.for_transaction(self.tenant_id, transaction.id)

    def check_against_journal(self, entries: list[JournalEntry]) -> None:
        """Every channel holds exactly what its outcome says: the target when applied, else its backup."""
        fields = self.client.capabilities.writable_fields()
        for entry in entries:
            held = self.on_node(entry.chan_id)
            expected = entry.target if entry.outcome is ChannelOutcome.APPLIED else entry.before
            assert entry.outcome is not ChannelOutcome.UNKNOWN, entry
            assert all(getattr(held, f) == getattr(expected, f) for f in fields), (
                entry.outcome,
                held,
                expected,
            )


def fee_proposal(channel: Channel, rng: random.Random, confidence: float = 0.8) -> Proposal:
    """A fee-rate change within the default step cap and above the minimum change."""
    current = channel.local_policy
    step = max(10, int(current.fee_rate_ppm * 0.2))
    can_raise = current.fee_rate_ppm + step <= TEST_LIMITS.fee_rate_max_ppm
    can_lower = current.fee_rate_ppm - step >= TEST_LIMITS.fee_rate_min_ppm
    raise_it = can_raise and (rng.random() < 0.6 or not can_lower)
    new_rate = current.fee_rate_ppm + step if raise_it else current.fee_rate_ppm - step
    kind = DecisionKind.RAISE_FEE if new_rate > current.fee_rate_ppm else DecisionKind.LOWER_FEE
    decision = build_decision(
        current, kind, chan_id=channel.chan_id, confidence=confidence, fee_rate_ppm=new_rate
    )
    return Proposal(channel=channel, decision=decision)


def no_history() -> ChangeHistory:
    """A node watched long enough, with no recorded change (the node's gossip timestamps still count)."""
    return ChangeHistory(times={}, external={})


@contextlib.asynccontextmanager
async def execution_env(storage: Storage, graph: ChannelGraph) -> AsyncIterator[ExecutionEnv]:
    """The biggest hub of `graph`, simulated from the real now, served over HTTP."""
    hub = max(range(graph.node_count), key=lambda index: len(graph.edges_of(index)))
    state = generate_sandbox_state(graph, hub, seed=HUB_SEED, now_s=int(time.time()))
    async with running_simulator(SimulatedNode(state, graph)) as handle:
        client = LndRestClient("hub", handle.url, handle.macaroons.fees, settings=FAST_TRANSPORT)
        try:
            yield ExecutionEnv(storage, handle, client, FakeClock(datetime.now(UTC)))
        finally:
            await client.aclose()
