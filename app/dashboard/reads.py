"""What the pages show, read through the same services the API routes call, scoped to the caller's tenant."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson

from app.dashboard.charts import Point
from app.dashboard.table import ChannelRow
from app.domain.access import ApiKeyRole
from app.domain.decision import DecisionStatus
from app.errors import DomainError, NotFoundError
from app.nodes.base import NodeClient
from app.resilience.circuit import CircuitState
from app.services.accounts import Principal
from app.services.cycles import CycleService
from app.services.flow import FLOW_METRIC, DailyFlow
from app.services.history import SYNC_METRIC
from app.services.ledger import LedgerService
from app.services.node_settings import parse_node_settings
from app.services.nodes import NodeService
from app.services.rollout import RolloutService, RolloutStatus
from app.services.runtime import ServiceRuntime
from app.storage.decisions import DecisionSummary
from app.storage.execution_records import RolloutRecord
from app.storage.records import DecisionRecord, MetricPoint, NodeRecord, PolicyRecord
from app.storage.shadow_report import ShadowReport

PAGE = 500  # the API's largest page
MAX_PAGES = 40  # 20,000 channels or decisions: far beyond the largest node of the public graph
# What the dashboard remembers per node, in this process, until the node is invalidated (every sync and every
# write transaction invalidates it; a review drops the tenant's) or this age passes. The age bounds only what no
# invalidation announces (decisions expiring by age, the gate's clock-driven checks, which move in hours), so
# it can be long: rebuilding them on a 2,000-channel node reads thousands of decisions.
ROWS_MAX_AGE_S = 300.0
GATE_MAX_AGE_S = 300.0
SHADOW_MAX_AGE_S = 300.0
LAST_CYCLES = 10
BALANCE_POINTS = 60
# How long the overview waits for a rollout gate it has not judged since the last sync. A canary gate reads
# the written channels' forwards from the node (0.3-0.4 s on a 2,000-channel node): past this the page shows
# the stage at once, says the gate is being judged and refreshes itself; the judging goes on and is remembered.
GATE_WAIT_S = 0.15
GATE_REFRESH_S = 2
GATE_PATIENT_AFTER = 3  # the third refresh waits for the gate however long it takes: the refreshing ends
# Gates still being judged after their page was sent, kept referenced until done (asyncio keeps only weak ones).
_JUDGING: set[asyncio.Task[RolloutStatus | str]] = set()


@dataclass(frozen=True)
class FlowChart:
    """Fees earned and forwards per UTC day as the last sync counted them, or why there are none."""

    revenue: list[Point]
    forwards: list[Point]
    unavailable: str | None = None
    as_of: datetime | None = None  # the sync that counted them


@dataclass(frozen=True)
class StoredOverview:
    """The parts of the overview read from storage: last cycles, decision counts, flow and balance."""

    cycles: list[MetricPoint]
    kinds: dict[str, int]
    statuses: dict[str, int]
    flow: FlowChart
    balances: list[Point]


@dataclass(frozen=True)
class Overview:
    """The overview page of one node."""

    node: NodeRecord
    mode: str  # what the node's settings ask for
    effective_mode: str  # what its cycles run: the mode stepped down to what the rollout stage allows
    stage: RolloutRecord | None  # the stage, since when, its history: read at every visit (None: unreadable)
    rollout: RolloutStatus | None  # with the gate; None while it is being judged or when it cannot be
    rollout_error: str | None
    gate_pending: bool  # the gate is being judged: the page refreshes itself
    circuit: str
    service_mode: str
    stored: StoredOverview


def _seen(judging: asyncio.Task[RolloutStatus | str]) -> None:
    """Forget a finished judging; a failure after its page was sent is seen (the next visit judges again)."""
    _JUDGING.discard(judging)
    if not judging.cancelled():
        judging.exception()


def _day(day: date) -> str:
    return day.strftime("%m-%d")


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
            page = orjson.loads(await self.cycles.channels.page(node, PAGE, cursor))
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

    async def overview(self, node: NodeRecord, gate_wait_s: float | None = GATE_WAIT_S) -> Overview:
        """Mode, rollout stage and gate, last cycles, decision counts, flow and balance over time.

        Every part is a few small reads (counted or projected on the server, the flow counted by the sync), so
        a first visit after a sync waits neither for thousands of decisions nor for the node. The gate, which
        may read the node, is waited for `gate_wait_s` (or as long as the rest takes; None: until judged).
        """
        runtime = self.runtime
        settings = parse_node_settings(node.settings, runtime.profiles, runtime.settings.profile)
        client = await self.client(node)
        stored_parts = asyncio.ensure_future(
            runtime.cache.remembered(
                ("dashboard-overview", node.tenant_id, node.id),
                lambda: self._stored_overview(node, client),
                tenant_id=node.tenant_id,
                node_id=node.id,
                max_age_s=ROWS_MAX_AGE_S,
            )
        )
        stage: RolloutRecord | None = None
        rollout: RolloutStatus | str | None
        try:
            stage = await self.rollouts().state(node)
        except DomainError as exc:
            rollout = exc.message
        else:
            judging = asyncio.ensure_future(self._rollout_or_error(node, client, stage))
            _JUDGING.add(judging)
            judging.add_done_callback(_seen)
            if gate_wait_s is None:
                await asyncio.wait({judging})
            else:
                await asyncio.wait({judging}, timeout=gate_wait_s)
        stored = await stored_parts
        if stage is not None:  # judged by now (while the rest was read too), or still being judged
            rollout = judging.result() if judging.done() else None
        circuit = runtime.clients.circuit_state(node.id)
        allowed = list(stage.stage.allowed_modes) if stage is not None else [settings.mode]
        return Overview(
            node=node,
            mode=settings.mode.value,
            effective_mode=(settings.mode if settings.mode in allowed else allowed[-1]).value,
            stage=stage,
            rollout=rollout if isinstance(rollout, RolloutStatus) else None,
            rollout_error=rollout if isinstance(rollout, str) else None,
            gate_pending=rollout is None,
            circuit=(circuit or CircuitState.CLOSED).value,
            service_mode=runtime.mode().value,
            stored=stored,
        )

    async def _stored_overview(self, node: NodeRecord, client: NodeClient | None) -> StoredOverview:
        """The overview's parts read from storage (remembered like the rows: a sync or a write drops them)."""
        storage = self.runtime.storage
        counts, flow, cycles, balance = await asyncio.gather(
            storage.decisions.latest_cycle_counts(node.tenant_id, node.id),
            self.flow(node, client),
            storage.metrics.recent(node.tenant_id, node.id, SYNC_METRIC, LAST_CYCLES),
            storage.metrics.recent(node.tenant_id, node.id, "balance.local_sat", BALANCE_POINTS),
        )
        return StoredOverview(
            cycles=list(reversed(cycles)),
            kinds=counts.kinds,
            statuses=counts.statuses,
            flow=flow,
            balances=[Point(f"{p.timestamp:%m-%d %H:%M}", p.value) for p in balance],
        )

    async def _rollout_or_error(
        self, node: NodeRecord, client: NodeClient | None, record: RolloutRecord
    ) -> RolloutStatus | str:
        """The rollout status, or why it cannot be read now (a canary gate reads the node, which may be down)."""
        try:
            return await self.rollout(node, client, record)
        except DomainError as exc:
            return exc.message

    async def rollout(
        self, node: NodeRecord, client: NodeClient | None, record: RolloutRecord
    ) -> RolloutStatus:
        """The rollout status; its gate is remembered for the stage it judges (until the next sync or write).

        The stage is read fresh on every visit and is part of the key, so a promotion or demotion shows at once.
        """
        rollouts = self.rollouts()
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
        """Fees and forwards per UTC day over the last two weeks, as the node's last sync counted them."""
        if client is not None and not client.capabilities.forwarding_history:
            return FlowChart([], [], f"the {node.backend.value} backend gives no forwarding history")
        point = await self.runtime.storage.metrics.latest(node.tenant_id, node.id, FLOW_METRIC)
        flow = DailyFlow.from_labels(point.labels) if point is not None else None
        if point is None or flow is None:
            return FlowChart([], [], "no sync has read the node's forwarding history yet")
        return FlowChart(
            revenue=[
                Point(_day(day), fee / 1000) for day, fee in zip(flow.days, flow.fees_msat, strict=True)
            ],
            forwards=[Point(_day(day), count) for day, count in zip(flow.days, flow.forwards, strict=True)],
            as_of=point.timestamp,
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
