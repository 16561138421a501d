"""Our LNbits backend against a real LNbits 1.6.2 whose LND funding source is the simulator (make test-lnbits)."""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.channel import ChannelRef
from app.domain.decision import DecisionKind
from app.domain.execution import ChannelOutcome, ExecutionMode, TransactionKind, TransactionState
from app.domain.policy import ChannelPolicy
from app.domain.snapshot import NodeSnapshot
from app.domain.updates import UpdateOutcome
from app.engine.cycle import run_cycle
from app.errors import UpstreamAuthError, UpstreamTemporaryError
from app.graph.centrality import CentralityMode, compute_centrality
from app.graph.model import ChannelGraph
from app.nodes.lnbits import LnbitsClient
from app.nodes.transport import TransportSettings
from app.policy.effects import TransactionEffects
from app.policy.executor import BatchIntent, Executor, Proposal
from app.policy.gate import ChangeHistory
from app.policy.limits import SafetyLimits
from app.resilience.circuit import CircuitSettings, CircuitState
from app.resilience.retry import RetrySettings
from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.state import SandboxState
from app.services.balances import balance_history, record_balances
from app.serving import free_port
from app.storage.database import Storage
from app.storage.records import NodeBackend
from tests.factories import balanced_profile
from tests.nodes.real_lnbits import RealLnbits, first_install, lnbits_python, real_lnbits, start_lnbits
from tests.policy.conftest import build_decision
from tests.policy.execution_env import FakeClock
from tests.sandbox.lnd.hub import small_graph, small_state
from tests.storage import builders
from tests.storage.conftest import mongo_url, storage

__all__ = ["mongo_url", "small_graph", "small_state", "storage"]  # imported fixtures, registered by name

pytestmark = pytest.mark.lnbits

# Retries stay (LNbits is real), but short; no rate limit, so the suite measures LNbits rather than waits.
QUICK = TransportSettings(
    requests_per_second=10_000, retry=RetrySettings(attempts=2, initial_s=0.05, max_s=0.1, jitter_s=0.0)
)
# One counted failure opens the circuit, so a test can tell whether an answer was held against the node.
STRICT = QUICK.model_copy(update={"circuit": CircuitSettings(consecutive_failures=1)})


@pytest.fixture(scope="session")
def lnbits(small_state: SandboxState, small_graph: ChannelGraph) -> Iterator[RealLnbits]:
    """The simulator's 35-channel hub behind a real LNbits, for the whole session."""
    python = lnbits_python()
    with real_lnbits(SimulatedNode(small_state, small_graph), python) as running:
        yield running


def client(
    lnbits: RealLnbits, token: str | None = None, url: str | None = None, settings: TransportSettings = STRICT
) -> LnbitsClient:
    return LnbitsClient("real-lnbits", url or lnbits.url, token or lnbits.token, settings=settings)


async def test_get_info_describes_the_simulated_node(lnbits: RealLnbits):
    node = lnbits.sim.node
    backend = client(lnbits)
    info = await backend.get_info()
    await backend.aclose()
    assert (info.pubkey, info.alias) == (node.pubkey, node.alias)
    assert info.block_height == node.block_height()
    assert info.num_peers == len(
        {live.channel.remote_pubkey for live in node.channels.values() if live.channel.active}
    )


async def test_list_channels_matches_the_simulator(lnbits: RealLnbits):
    node = lnbits.sim.node
    backend = client(lnbits)
    channels = await backend.list_channels()
    await backend.aclose()
    assert sorted(channel.chan_id for channel in channels) == sorted(node.channels)  # every open channel
    for channel in channels:
        live = node.channels[channel.chan_id]
        assert channel.channel_point == live.channel.channel_point
        assert channel.remote_pubkey == live.channel.remote_pubkey
        assert channel.capacity_sat == live.channel.capacity_sat
        assert (channel.local_balance_sat, channel.remote_balance_sat) == (
            live.local_msat // 1000,
            live.remote_msat // 1000,
        )
        assert channel.active == live.channel.active
        policy = channel.local_policy
        assert (policy.fee_rate_ppm, policy.base_fee_msat) == (
            live.policy.fee_rate_ppm,
            live.policy.base_fee_msat,
        )
        assert policy.time_lock_delta is None and policy.max_htlc_msat is None  # LNbits does not say: unknown


async def test_a_fee_write_lands_and_reads_back(lnbits: RealLnbits):
    node = lnbits.sim.node
    backend = client(lnbits)
    live = next(live for live in node.channels.values() if live.channel.active)
    ref = ChannelRef(chan_id=live.chan_id, channel_point=live.channel.channel_point)
    before = await backend.get_channel_policy(ref)
    target = before.model_copy(
        update={"fee_rate_ppm": before.fee_rate_ppm + 37, "base_fee_msat": before.base_fee_msat + 1}
    )
    result = await backend.update_channel_policy(ref, target, current=before)
    assert result.outcome is UpdateOutcome.ACCEPTED
    after = await backend.get_channel_policy(ref)
    await backend.aclose()
    assert (after.fee_rate_ppm, after.base_fee_msat) == (target.fee_rate_ppm, target.base_fee_msat)
    # On the node itself: the fees landed, and LNbits' LND class reset the time lock to its own 80.
    assert (live.policy.fee_rate_ppm, live.policy.base_fee_msat) == (
        target.fee_rate_ppm,
        target.base_fee_msat,
    )
    assert live.policy.time_lock_delta == 80


@pytest.mark.parametrize(
    ("chan_id", "lnbits_answer"),
    [
        (
            str(800_000 << 40 | 4_321 << 16),
            "edge not found",
        ),  # no such channel anywhere: LNbits says HTTP 500
        (None, "Channel not found"),  # a channel of the graph that is not ours: HTTP 404
    ],
)
async def test_a_fee_write_to_a_channel_lnbits_refuses_fails_that_channel_only(
    lnbits: RealLnbits, chan_id: str | None, lnbits_answer: str
):
    node = lnbits.sim.node
    if chan_id is None:
        own = {live.edge for live in node.channels.values()}
        edge = next(edge for edge in range(node.graph.edge_count) if edge not in own)
        chan_id = node.graph.channel_ids[edge]
    backend = client(lnbits)
    live = next(iter(node.channels.values()))
    policy = ChannelPolicy(base_fee_msat=1_000, fee_rate_ppm=100)
    unknown = ChannelRef(chan_id=chan_id, channel_point="ab" * 32 + ":0")
    result = await backend.update_channel_policy(unknown, policy)
    assert result.outcome is UpdateOutcome.FAILED
    assert result.error is not None and lnbits_answer in result.error
    # A refusal about one channel says nothing about the node's health: the circuit stays closed.
    assert backend.circuit_state is CircuitState.CLOSED
    ref = ChannelRef(chan_id=live.chan_id, channel_point=live.channel.channel_point)
    assert (await backend.get_channel_policy(ref)).fee_rate_ppm == live.policy.fee_rate_ppm
    await backend.aclose()


async def test_a_bad_token_is_an_auth_error(lnbits: RealLnbits):
    backend = client(lnbits, token="not-a-token")
    with pytest.raises(UpstreamAuthError, match="HTTP 401"):
        await backend.get_info()
    await backend.aclose()


async def test_lnbits_down_is_a_temporary_error(lnbits: RealLnbits):
    python = lnbits_python()
    with tempfile.TemporaryDirectory(prefix="lnbits-down-") as folder:
        server = start_lnbits(python, lnbits.sim, Path(folder))
        try:
            backend = client(lnbits, token=first_install(server.url), url=server.url, settings=QUICK)
            assert (await backend.get_info()).pubkey == lnbits.sim.node.pubkey
        finally:
            server.stop()
    with pytest.raises(UpstreamTemporaryError, match="is unreachable"):
        await backend.get_info()  # the LNbits it was talking to has stopped
    await backend.aclose()
    closed = client(lnbits, url=f"http://127.0.0.1:{free_port()}", settings=QUICK)  # nobody ever listened
    with pytest.raises(UpstreamTemporaryError, match="is unreachable"):
        await closed.list_channels()
    await closed.aclose()


async def test_a_journaled_batch_through_real_lnbits(lnbits: RealLnbits, storage: Storage):
    node = lnbits.sim.node
    backend = client(lnbits)
    channel = next(c for c in await backend.list_channels() if c.active and c.chan_id != _first_active(node))
    clock = FakeClock(datetime.now(UTC))
    current_ppm = channel.local_policy.fee_rate_ppm
    target_ppm = current_ppm + max(50, current_ppm // 10)  # a change the default limits find worth gossiping
    proposal = Proposal(
        channel, build_decision(channel.local_policy, chan_id=channel.chan_id, fee_rate_ppm=target_ppm)
    )
    executor = Executor(storage, backend, SafetyLimits(), clock, effects=TransactionEffects(storage, clock))
    intent = BatchIntent("t", "n", "test", TransactionKind.APPLY, "real lnbits batch", ExecutionMode.LIVE)
    report = await executor.apply(intent, [proposal], ChangeHistory(times={}, external={}))
    await backend.aclose()
    assert report.transaction is not None and report.transaction.state is TransactionState.COMMITTED
    [entry] = await storage.journal.for_transaction("t", report.transaction.id)
    assert entry.outcome is ChannelOutcome.APPLIED and entry.observed is not None
    assert entry.observed.fee_rate_ppm == target_ppm == node.channels[channel.chan_id].policy.fee_rate_ppm


def _first_active(node: SimulatedNode) -> str:
    """The channel the single-write test changes, so the batch test picks another."""
    return next(live.chan_id for live in node.channels.values() if live.channel.active)


async def test_a_shadow_cycle_decides_on_flow_inferred_through_real_lnbits(
    lnbits: RealLnbits, storage: Storage, small_graph: ChannelGraph
):
    """Daily syncs through LNbits while the simulated node routes; the balance moves become the flow evidence."""
    backend = client(lnbits, settings=QUICK)
    record = builders.node("t", "lnbits-node", backend=NodeBackend.LNBITS)
    sim = lnbits.sim.client()
    days = 9  # 8 compared syncs: idleness needs the last 7 days watched
    start = datetime.now(UTC)  # the service's clock (the simulated one may be older than the moves' TTL)
    for day in range(days):
        channels = await backend.list_channels()
        moment = start + timedelta(days=day)
        await record_balances(storage, record, channels, moment)
        if day < days - 1:
            advanced = await sim.post(
                "/_sandbox/clock",
                json={"advance_s": 86_400},
                headers={"Authorization": f"Bearer {lnbits.sim.sandbox_token}"},
            )
            assert advanced.status_code == 200, advanced.text
    info = await backend.get_info()
    await sim.aclose()
    await backend.aclose()
    profile = balanced_profile()
    history = await balance_history(storage, record, moment, profile.activity.window_days)
    assert len(history) == days - 1 and any(interval.moves_sat for interval in history)
    snapshot = NodeSnapshot(
        node=info,
        channels=channels,
        now_s=int(moment.timestamp()),
        optimizer_updates_last_24h=0,
        policy_changes=[],
        capabilities=backend.capabilities,
        balance_history=history,
    )
    centrality = compute_centrality(small_graph, mode=CentralityMode.EXACT)
    report = run_cycle(snapshot, small_graph, centrality, profile)
    kinds = Counter(e.decision.kind for e in report.evaluations)
    print(f"decisions on inferred flow: {dict(kinds)}")
    changes = [e.decision for e in report.evaluations if e.decision.kind.writes_policy]
    assert changes, kinds  # the node gets fee changes, not only holds
    for decision in changes:
        assert decision.kind in (DecisionKind.RAISE_FEE, DecisionKind.LOWER_FEE)
        assert "inferred from balance changes" in decision.reasons[0]
    activity = report.evaluations[0].decision.breakdown.get("activity")
    assert activity is not None and activity.facts["flow_source"] == "inferred_from_balance_changes"
    assert activity.confidence == profile.activity.inferred_confidence
