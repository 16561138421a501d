"""Observe a node: read it, score every channel, and keep the snapshot (storage + cache)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from app.cache.keys import CacheKey, cache_key
from app.cache.ttl import TtlClass
from app.domain.channel import Channel
from app.domain.snapshot import NodeSnapshot
from app.engine.cycle import CycleReport, run_cycle
from app.engine.profile import Profile
from app.errors import NotFoundError, UpstreamUnavailableError
from app.nodes.base import NodeClient
from app.observability.progress import report
from app.policy.gate import ChangeHistory
from app.resilience.circuit import CircuitState
from app.services.balances import balance_history, record_balances
from app.services.flow import FLOW_METRIC, count_daily
from app.services.graphs import ScoredGraph
from app.services.history import SYNC_METRIC, ExternalChange, PolicyHistoryService
from app.services.node_settings import parse_node_settings
from app.services.runtime import ServiceRuntime
from app.services.views import channel_view
from app.storage.records import ChannelSnapshotRecord, MetricPoint, NodeRecord, NodeUpdate

A = TypeVar("A")
B = TypeVar("B")


async def fresh_policies(client: NodeClient, channels: list[Channel]) -> list[Channel]:
    """The channels with their policies read fresh from the node (a listing may take them from a cached graph)."""
    if client.listing_is_fresh or not channels:
        return channels
    readings = await client.read_policies(channels)
    return [
        channel.model_copy(
            update={
                "local_policy": readings[channel.chan_id].policy,
                "policy_updated_s": readings[channel.chan_id].updated_s or channel.policy_updated_s,
            }
        )
        if channel.chan_id in readings
        else channel
        for channel in channels
    ]


async def concurrently(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Both results; when either fails, the other is cancelled and the failure raised as it is (no group)."""
    task = asyncio.ensure_future(first)
    try:
        other = await second
    except BaseException:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise
    return await task, other


@dataclass(frozen=True)
class Observation:
    """One cycle's reading of a node, scored and validated (nothing written to the node)."""

    cycle_id: str
    node: NodeRecord
    profile: Profile
    report: CycleReport
    taken_at: datetime
    seconds: float
    snapshot: NodeSnapshot
    external_changes: list[ExternalChange]

    @property
    def history(self) -> ChangeHistory:
        """The change history this cycle's decisions were validated against."""
        return ChangeHistory.from_changes(self.snapshot.policy_changes, self.snapshot.external_changes)


class ObserveService:
    """Sync and score; the building block of both `sync` and `optimize`."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.history = PolicyHistoryService(runtime.storage)

    async def observe(self, node: NodeRecord, actor: str) -> Observation:
        """Read the node, record policy changes, score and validate every channel, store the snapshot.

        The caller holds the node's lease: this writes the policy history the executor relies on.
        """
        runtime = self.runtime
        started = time.perf_counter()
        now = runtime.clock()
        settings = parse_node_settings(node.settings, runtime.profiles, runtime.settings.profile)
        profile = settings.effective_profile(runtime.profiles, runtime.settings.profile)
        client = await runtime.clients.get(node, actor)
        report("reading the node")

        async def read_channels() -> tuple[ScoredGraph, list[Channel]]:
            scored = await self._graph(node, client)
            listed = await client.list_channels(scored.graph if client.capabilities.channel_graph else None)
            return scored, await fresh_policies(client, listed)

        # The node's info and its channels are independent reads (LNbits' info alone takes seconds), but a
        # circuit that is not closed lets one probe through: then the reads go one after the other.
        if client.circuit_state is CircuitState.CLOSED:
            info, (scored, channels) = await concurrently(client.get_info(), read_channels())
        else:
            info = await client.get_info()
            scored, channels = await read_channels()
        window = profile.activity.window_days * 86_400
        forwards = None
        balances = None
        if client.capabilities.forwarding_history:
            forwards = await client.forwarding_history(
                int(now.timestamp()) - window, int(now.timestamp()) + 1
            )
        else:
            await record_balances(runtime.storage, node, channels, now)
            balances = await balance_history(runtime.storage, node, now, profile.activity.window_days)
        external = await self.history.record_sync(node, channels, client.capabilities, now, actor)
        changes, held = await self.history.change_history(node, profile.limits, now)
        snapshot = NodeSnapshot(
            node=info,
            channels=channels,
            now_s=int(now.timestamp()),
            optimizer_updates_last_24h=await runtime.storage.budgets.used(node.tenant_id, node.id, now),
            policy_changes=changes,
            capabilities=client.capabilities,
            forwards=forwards,
            balance_history=balances,
            external_changes=held,
        )
        report("scoring", 0, len(channels))
        cycle = await asyncio.to_thread(run_cycle, snapshot, scored.graph, scored.centrality, profile)
        report("storing", len(channels), len(channels))
        cycle_id = uuid.uuid4().hex
        observation = Observation(
            cycle_id, node, profile, cycle, now, time.perf_counter() - started, snapshot, external
        )
        await self._store(observation)
        return observation

    async def _graph(self, node: NodeRecord, client: NodeClient) -> ScoredGraph:
        """The node's own graph when its backend serves one (LND), else the configured graph."""
        runtime = self.runtime
        if client.capabilities.channel_graph:  # the node knows the graph it routes on
            return await runtime.graphs.get(f"node:{node.id}", client.describe_graph)
        default = runtime.default_graph
        if default.graph is None or default.centrality is None:
            raise UpstreamUnavailableError("the channel graph is still loading; try again in a few seconds")
        # Loaded once at start-up and never stale: no TTL, no recomputation.
        return ScoredGraph(default.graph, default.centrality, computed_at=0.0)

    async def _store(self, observation: Observation) -> None:
        """Snapshots with scores, sync metrics, and the cached channel list and scores."""
        runtime, node = self.runtime, observation.node
        evaluations = observation.report.evaluations
        snapshots = [
            ChannelSnapshotRecord(
                tenant_id=node.tenant_id,
                node_id=node.id,
                channel_id=e.channel.chan_id,
                cycle_id=observation.cycle_id,
                taken_at=observation.taken_at,
                channel=e.channel,
                score=e.decision.breakdown,
            )
            for e in evaluations
        ]
        await runtime.storage.channels.add_many(snapshots)
        # Ordered by chan_id like the stored snapshots, so a page cursor means the same in a rebuilt list.
        ordered = sorted(evaluations, key=lambda e: int(e.channel.chan_id))
        views = [channel_view(e.channel, e.peer_alias, e.decision.breakdown) for e in ordered]
        await runtime.storage.channel_lists.replace(node.tenant_id, node.id, observation.cycle_id, views)
        local = sum(e.channel.local_balance_sat for e in evaluations)
        labels = {"cycle_id": observation.cycle_id}
        await runtime.storage.metrics.record(
            [
                *_flow_points(observation),
                MetricPoint(tenant_id=node.tenant_id, node_id=node.id, timestamp=observation.taken_at,
                            name=SYNC_METRIC, value=observation.seconds, labels=labels),
                MetricPoint(tenant_id=node.tenant_id, node_id=node.id, timestamp=observation.taken_at,
                            name="channels.count", value=float(len(evaluations))),
                MetricPoint(tenant_id=node.tenant_id, node_id=node.id, timestamp=observation.taken_at,
                            name="balance.local_sat", value=float(local)),
            ]
        )  # fmt: skip
        synced = NodeUpdate(last_sync_at=observation.taken_at, last_error=None, last_error_at=None)
        with contextlib.suppress(NotFoundError):  # deleted while it synced: nothing left to mark
            await runtime.storage.nodes.update(node.tenant_id, node.id, synced)
        await runtime.cache.invalidate_node(node.tenant_id, node.id)  # the record and the old pages
        await runtime.cache.set_json(channels_key(node), {"cycle_id": observation.cycle_id, "channels": views},
                                     TtlClass.CHANNELS)  # fmt: skip
        # Written after the list: a reader that sees this cycle id finds its list (or rebuilds it).
        await runtime.cache.set_bytes(
            channels_cycle_key(node), observation.cycle_id.encode(), TtlClass.CHANNELS
        )


def _flow_points(observation: Observation) -> list[MetricPoint]:
    """Fees and forwards per day from the forwards this sync read (none from a node without that history)."""
    forwards = observation.snapshot.forwards
    if forwards is None:
        return []
    window = timedelta(days=observation.profile.activity.window_days)
    flow = count_daily(forwards, observation.taken_at, observation.taken_at - window)
    node = observation.node
    return [
        MetricPoint(tenant_id=node.tenant_id, node_id=node.id, timestamp=observation.taken_at, name=FLOW_METRIC,
                    value=sum(flow.fees_msat) / 1000, labels=flow.labels())
    ]  # fmt: skip


def channels_key(node: NodeRecord) -> CacheKey:
    """Cache key of a node's current channel list."""
    return cache_key(node.tenant_id, node.id, "channels")


def channels_cycle_key(node: NodeRecord) -> CacheKey:
    """Cache key of the sync cycle the cached channel list and its pages come from."""
    return cache_key(node.tenant_id, node.id, "channels-cycle")
