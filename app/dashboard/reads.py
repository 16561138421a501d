"""What the pages show, read through the same services the API routes call, scoped to the caller's tenant."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from app.dashboard.charts import Point
from app.dashboard.table import ChannelRow
from app.domain.access import ApiKeyRole
from app.domain.decision import DecisionStatus
from app.errors import DomainError, NotFoundError, UpstreamError
from app.nodes.base import NodeClient
from app.resilience.circuit import CircuitState
from app.services.accounts import Principal
from app.services.cycles import CycleService
from app.services.history import SYNC_METRIC
from app.services.ledger import LedgerService
from app.services.node_settings import parse_node_settings
from app.services.nodes import NodeService
from app.services.rollout import RolloutService, RolloutStatus
from app.services.runtime import ServiceRuntime
from app.storage.decisions import DecisionSummary
from app.storage.records import DecisionRecord, MetricPoint, NodeRecord, PolicyRecord
from app.storage.shadow_report import ShadowReport

PAGE = 500  # the API's largest page
MAX_PAGES = 40  # 20,000 channels or decisions: far beyond the largest node of the public graph
# What the dashboard remembers per node, in this process, until the node is invalidated (every sync and every
# write transaction invalidates it; a review drops the tenant's) or this age passes. The age bounds only what no
# invalidation announces (decisions expiring by age, the gate's clock-driven checks, which move in hours), so
# it can be long: rebuilding them on a 2,000-channel node reads thousands of decisions (1-2 s in all).
ROWS_MAX_AGE_S = 300.0
GATE_MAX_AGE_S = 300.0
SHADOW_MAX_AGE_S = 300.0
FLOW_MAX_AGE_S = 300.0  # forwards per day, read from the node: the chart is at most five minutes old
FLOW_DAYS = 14
LAST_CYCLES = 10


@dataclass(frozen=True)
class FlowChart:
    """Fees earned and forwards per UTC day, or why the node cannot tell."""

    revenue: list[Point]
    forwards: list[Point]
    unavailable: str | None = None


@dataclass(frozen=True)
class Overview:
    """The overview page of one node."""

    node: NodeRecord
    mode: str  # what the node's settings ask for
    effective_mode: str  # what its cycles run: the mode stepped down to what the rollout stage allows
    rollout: RolloutStatus | None
    rollout_error: str | None
    circuit: str
    service_mode: str
    cycles: list[MetricPoint]
    kinds: dict[str, int]
    statuses: dict[str, int]
    flow: FlowChart
    balances: list[Point]


def _day(moment: datetime) -> str:
    return moment.strftime("%m-%d")


class DashboardReads:
    """Reads for one signed-in principal; every node is looked up inside the principal's tenant."""

    def __init__(self, runtime: ServiceRuntime, principal: Principal) -> None:
        self.runtime = runtime
        self.principal = principal
        self.tenant_id = principal.require(ApiKeyRole.VIEWER)
        self.cycles = CycleService(runtime)
        self.ledger = LedgerService(runtime)
        self.nodes = NodeService(runtime)

    def rollouts(self) -> RolloutService:
        """The rollout service, built as the API route builds it."""
        runtime = self.runtime
        return RolloutService(runtime.storage, runtime.settings, runtime.alerts, runtime.clock)

    async def node_list(self) -> list[NodeRecord]:
        """The tenant's nodes (the first 500)."""
        return (await self.nodes.list(self.tenant_id, PAGE, None)).items

    async def node(self, node_id: str) -> NodeRecord:
        """One node of the tenant (404 for any other)."""
        return await self.nodes.get(self.tenant_id, node_id)

    async def client(self, node: NodeRecord) -> NodeClient | None:
        """The node's client, or None when its credential or address cannot give one now."""
        try:
            return await self.runtime.clients.get(node, self.principal.key_id)
        except DomainError:
            return None

    # --- the channel table ------------------------------------------------------------------------------

    async def channel_rows(self, node: NodeRecord) -> list[ChannelRow]:
        """Every channel of the last sync joined with the latest cycle's decision, remembered briefly."""
        return await self.runtime.cache.remembered(
            ("dashboard-rows", node.tenant_id, node.id),
            lambda: self._load_rows(node),
            tenant_id=node.tenant_id,
            node_id=node.id,
            max_age_s=ROWS_MAX_AGE_S,
            size=lambda rows: 600 * len(rows),
        )

    async def _load_rows(self, node: NodeRecord) -> list[ChannelRow]:
        channels: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = orjson.loads(await self.cycles.channel_page(node, PAGE, cursor))
            channels += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        decisions = await self._latest_decisions(node)
        return [_row(channel, decisions.get(channel["chan_id"])) for channel in channels]

    async def _latest_decisions(self, node: NodeRecord) -> dict[str, DecisionSummary]:
        """The newest cycle's decisions by chan_id, as much of each as the table shows."""
        summaries = await self.runtime.storage.decisions.latest_cycle_summaries(node.tenant_id, node.id)
        return {summary.chan_id: summary for summary in summaries}

    # --- the overview -----------------------------------------------------------------------------------

    async def overview(self, node: NodeRecord) -> Overview:
        """Mode, rollout stage and gate, last cycles, decision counts, flow and balance over time."""
        runtime = self.runtime
        settings = parse_node_settings(node.settings, runtime.profiles, runtime.settings.profile)
        client = await self.client(node)
        now = runtime.clock()
        metrics = runtime.storage.metrics
        # Independent reads, each remembered once built: a first visit waits for the slowest, not their sum.
        rollout, rows, flow, cycles, balance = await asyncio.gather(
            self._rollout_or_error(node, client),
            self.channel_rows(node),
            self.flow(node, client),
            metrics.series(
                node.tenant_id, node.id, SYNC_METRIC, since=now - timedelta(days=30), limit=10_000
            ),
            metrics.series(
                node.tenant_id,
                node.id,
                "balance.local_sat",
                since=now - timedelta(days=FLOW_DAYS),
                limit=10_000,
            ),
        )
        circuit = runtime.clients.circuit_state(node.id)
        allowed = rollout.allowed_modes if isinstance(rollout, RolloutStatus) else [settings.mode]
        return Overview(
            node=node,
            mode=settings.mode.value,
            effective_mode=(settings.mode if settings.mode in allowed else allowed[-1]).value,
            rollout=rollout if isinstance(rollout, RolloutStatus) else None,
            rollout_error=rollout if isinstance(rollout, str) else None,
            circuit=(circuit or CircuitState.CLOSED).value,
            service_mode=runtime.mode().value,
            cycles=list(reversed(cycles[-LAST_CYCLES:])),
            kinds=dict(Counter(row.kind for row in rows if row.kind).most_common()),
            statuses=dict(Counter(row.status for row in rows if row.status).most_common()),
            flow=flow,
            balances=[Point(f"{p.timestamp:%m-%d %H:%M}", p.value) for p in balance[-60:]],
        )

    async def _rollout_or_error(self, node: NodeRecord, client: NodeClient | None) -> RolloutStatus | str:
        """The rollout status, or why it cannot be read now (a canary gate reads the node, which may be down)."""
        try:
            return await self.rollout(node, client)
        except DomainError as exc:
            return exc.message

    async def rollout(self, node: NodeRecord, client: NodeClient | None) -> RolloutStatus:
        """The rollout status; its gate (about a second on a large node) is remembered for the stage it judges.

        The stage is read fresh on every visit and is part of the key, so a promotion or demotion shows at once.
        """
        rollouts = self.rollouts()
        record = await rollouts.state(node)
        return await self.runtime.cache.remembered(
            ("dashboard-rollout", node.tenant_id, node.id, record.stage, record.entered_at, record.version),
            lambda: rollouts.status(node, client),
            tenant_id=node.tenant_id,
            node_id=node.id,
            max_age_s=GATE_MAX_AGE_S,
        )

    async def shadow_report(self, node: NodeRecord, days: int) -> ShadowReport:
        """The shadow report of the last `days` days (counting every decision of the window: remembered)."""
        return await self.runtime.cache.remembered(
            ("dashboard-shadow", node.tenant_id, node.id, days),
            lambda: self.cycles.shadow_report(node, days),
            tenant_id=node.tenant_id,
            node_id=node.id,
            max_age_s=SHADOW_MAX_AGE_S,
        )

    async def flow(self, node: NodeRecord, client: NodeClient | None) -> FlowChart:
        """Fees and forwards per UTC day over the last two weeks, from the node's forwarding history."""
        if client is None:
            return FlowChart([], [], "the node cannot be reached with its stored credential")
        if not client.capabilities.forwarding_history:
            return FlowChart([], [], f"the {node.backend.value} backend gives no forwarding history")

        async def load() -> FlowChart:
            today = self.runtime.clock().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            start = today - timedelta(days=FLOW_DAYS - 1)
            end = self.runtime.clock()
            try:
                events = await client.forwarding_history(int(start.timestamp()), int(end.timestamp()) + 1)
            except UpstreamError as exc:
                return FlowChart([], [], exc.message)
            days = [start + timedelta(days=n) for n in range(FLOW_DAYS)]
            fees: Counter[str] = Counter()
            counts: Counter[str] = Counter()
            for event in events:
                label = _day(datetime.fromtimestamp(event.timestamp_ns / 1e9, UTC))
                fees[label] += event.fee_msat
                counts[label] += 1
            return FlowChart(
                revenue=[Point(_day(d), fees[_day(d)] / 1000) for d in days],
                forwards=[Point(_day(d), counts[_day(d)]) for d in days],
            )

        return await self.runtime.cache.remembered(
            ("dashboard-flow", node.tenant_id, node.id),
            load,
            tenant_id=node.tenant_id,
            node_id=node.id,
            max_age_s=FLOW_MAX_AGE_S,
            keep=lambda chart: chart.unavailable is None,
        )

    # --- one channel ------------------------------------------------------------------------------------

    async def channel(
        self, node: NodeRecord, chan_id: str
    ) -> tuple[ChannelRow, dict[str, Any], DecisionRecord | None, list[PolicyRecord]]:
        """A channel's row, its full score breakdown, its latest decision in full and its policy history."""
        rows = {row.chan_id: row for row in await self.channel_rows(node)}
        row = rows.get(chan_id)
        if row is None:
            raise NotFoundError(f"channel {chan_id} is not among node {node.id}'s channels of the last sync")
        score = await self.cycles.score(node, chan_id)
        decision = None
        if row.decision_id is not None:
            with contextlib.suppress(DomainError):
                decision = await self.cycles.decision(self.tenant_id, row.decision_id)
        history = await self.runtime.storage.policies.history(node.tenant_id, node.id, chan_id, limit=50)
        return row, score, decision, history.items

    async def pending(self, node: NodeRecord) -> list[DecisionRecord]:
        """Decisions waiting for an operator, newest first."""
        page = await self.cycles.decisions(node, DecisionStatus.NEEDS_APPROVAL, None, PAGE, None)
        return page.items


def _row(channel: dict[str, Any], record: DecisionSummary | None) -> ChannelRow:
    """A table row from a channel view (as the API lists it) and the latest cycle's decision for it."""
    score = channel.get("score") or {}
    row: dict[str, Any] = {}
    if record is not None:
        row = {
            "decision_id": record.id,
            "kind": record.kind.value,
            "status": record.status.value,
            "proposed_fee_ppm": record.proposed_fee_ppm,
            "confidence": record.confidence,
            "verdict": record.verdict.value if record.verdict else None,
            "issues": record.issue_codes,
        }
    return ChannelRow(
        chan_id=channel["chan_id"],
        scid=channel["scid"],
        alias=channel["peer"]["alias"] or "",
        pubkey=channel["peer"]["pubkey"],
        capacity_sat=channel["capacity_sat"],
        local_ratio=channel["local_ratio"],
        active=channel["active"],
        fee_rate_ppm=channel["policy"]["fee_rate_ppm"],
        base_fee_msat=channel["policy"]["base_fee_msat"],
        total_score=score.get("total"),
        scores=dict(score.get("scores") or {}),
        **row,
    )
