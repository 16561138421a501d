"""Pages that read: nodes, overview, channel table, channel page, shadow report; approvals and their actions."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from app.dashboard.auth import checked_form, visitor
from app.dashboard.charts import Point, bar_chart, line_chart
from app.dashboard.pages import NOTICES, checked_chan_id, checked_id, html_errors, page, reads_for, redirect
from app.dashboard.reads import GATE_PATIENT_AFTER, GATE_REFRESH_S, GATE_WAIT_S
from app.dashboard.table import SHORT_NAMES, parse_table_query, table_view
from app.domain.access import ApiKeyRole
from app.domain.decision import DecisionKind
from app.domain.validation import Verdict
from app.errors import InvalidInputError

SHADOW_DAYS, MAX_SHADOW_DAYS = 14, 90
MAX_REFRESHES = 20
router = APIRouter()


@router.get("/nodes")
@html_errors
async def nodes(request: Request) -> Response:
    """The tenant's nodes."""
    seen = await visitor(request)
    listed = await reads_for(request, seen).node_list()
    return page("nodes.html", request, seen, nodes=listed, node=None)


@router.get("/nodes/{node_id}")
@html_errors
async def overview(request: Request, node_id: str, judging: str | None = None) -> Response:
    """Mode, rollout stage and gate, last cycles, decisions by kind, flow and balance, degraded modes.

    `judging` counts the refreshes while the gate is being judged; from the GATE_PATIENT_AFTER-th the page
    waits for the gate (a judging that keeps failing slowly would otherwise refresh the page for ever).
    """
    seen = await visitor(request)
    refreshes = 0
    if judging:
        if not judging.isdigit() or not 1 <= int(judging) <= MAX_REFRESHES:
            raise InvalidInputError(f"judging must be a whole number from 1 to {MAX_REFRESHES}")
        refreshes = int(judging)
    reads = reads_for(request, seen)
    node = await reads.node(checked_id(node_id, "node id"))
    data = await reads.overview(node, GATE_WAIT_S if refreshes < GATE_PATIENT_AFTER else None)
    charts = {
        "revenue": bar_chart("Fees earned per day (sat)", data.stored.flow.revenue, "sat"),
        "forwards": bar_chart("Forwards per day", data.stored.flow.forwards, "forwards"),
        "balance": line_chart("Local balance at each sync (sat)", data.stored.balances, "sat"),
    }
    return page(
        "overview.html",
        request,
        seen,
        node=node,
        data=data,
        charts=charts,
        gate_refresh_s=GATE_REFRESH_S,
        next_refresh=min(refreshes + 1, MAX_REFRESHES),
        next_is_patient=refreshes + 1 >= GATE_PATIENT_AFTER,
    )


@router.get("/nodes/{node_id}/channels")
@html_errors
async def channels(
    request: Request,
    node_id: str,
    sort: str | None = None,
    direction: str | None = Query(None, alias="dir"),
    q: str | None = None,
    decision: str | None = None,
    verdict: str | None = None,
    page_number: str | None = Query(None, alias="page"),
) -> Response:
    """Every channel of the last sync with its decision; sorted, filtered and paged on the server."""
    seen = await visitor(request)
    reads = reads_for(request, seen)
    node = await reads.node(checked_id(node_id, "node id"))
    rows = await reads.channel_rows(node)
    heuristics = list(rows[0].scores) if rows else []
    query = parse_table_query(sort, direction, q, decision, verdict, page_number, heuristics)
    return page(
        "channels.html",
        request,
        seen,
        node=node,
        view=table_view(rows, query),
        query=query,
        heuristics=heuristics,
        short_names=SHORT_NAMES,
        kinds=[k.value for k in DecisionKind],
        verdicts=[v.value for v in Verdict],
        urlencode=urlencode,
    )


@router.get("/nodes/{node_id}/channels/{chan_id}")
@html_errors
async def channel(request: Request, node_id: str, chan_id: str) -> Response:
    """One channel: its score breakdown, its latest decision with reasons and verdict, its policy history."""
    seen = await visitor(request)
    reads = reads_for(request, seen)
    node = await reads.node(checked_id(node_id, "node id"))
    row, score, decision, history = await reads.channel(node, checked_chan_id(chan_id))
    return page(
        "channel.html", request, seen, node=node, row=row, score=score, decision=decision, history=history
    )


@router.get("/nodes/{node_id}/shadow")
@html_errors
async def shadow(request: Request, node_id: str, days: str | None = None) -> Response:
    """What shadow mode would have changed per day, and how many proposals were refused and why."""
    seen = await visitor(request)
    window = SHADOW_DAYS
    if days:
        if not days.isdigit() or not 1 <= int(days) <= MAX_SHADOW_DAYS:
            raise InvalidInputError(f"days must be a whole number from 1 to {MAX_SHADOW_DAYS}")
        window = int(days)
    reads = reads_for(request, seen)
    node = await reads.node(checked_id(node_id, "node id"))
    report = await reads.shadow_report(node, window)
    chart = bar_chart(
        "Proposals that would have changed a policy, per UTC day",
        [Point(day.strftime("%m-%d"), count) for day, count in report.by_day.items()],
        "proposals",
    )
    return page("shadow.html", request, seen, node=node, report=report, chart=chart, days=window)


@router.get("/nodes/{node_id}/approvals")
@html_errors
async def approvals(request: Request, node_id: str, notice: str | None = None) -> Response:
    """Decisions waiting for an operator; operators approve or reject them here."""
    seen = await visitor(request)
    reads = reads_for(request, seen)
    node = await reads.node(checked_id(node_id, "node id"))
    pending = await reads.pending(node)
    return page("approvals.html", request, seen, node=node, pending=pending, notice=NOTICES.get(notice or ""))


@router.post("/nodes/{node_id}/decisions/{decision_id}/{action}")
@html_errors
async def review(request: Request, node_id: str, decision_id: str, action: str) -> Response:
    """Approve or reject one decision (operator role, CSRF-checked form)."""
    seen = await visitor(request)
    await checked_form(request, seen.session.csrf)
    if action not in ("approve", "reject"):
        raise InvalidInputError("the action is approve or reject")
    tenant_id = seen.principal.require(ApiKeyRole.OPERATOR)
    reads = reads_for(request, seen)
    node = await reads.node(checked_id(node_id, "node id"))
    record = await reads.cycles.decision(tenant_id, checked_id(decision_id, "decision id"))
    if record.node_id != node.id:
        raise InvalidInputError(f"decision {record.id} is not of node {node.id}")
    approve = action == "approve"
    await reads.cycles.review(tenant_id, record.id, approve=approve, actor=seen.principal.key_id)
    return redirect(f"/nodes/{node.id}/approvals?notice={'approved' if approve else 'rejected'}")
