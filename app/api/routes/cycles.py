"""Sync, optimize, channels, scores, decisions and the shadow report of a node."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Response

from app.api.deps import CurrentPrincipal, Cursor, Cycles, Limit, OperatedNode, Runtime, ViewedNode
from app.api.routes.jobs import STILL_RUNNING, Wait, answer
from app.api.schemas import ChannelPageOut, ListedDecisionOut, OptimizeIn, PageOut
from app.domain.access import ApiKeyRole
from app.domain.decision import DecisionKind, DecisionStatus
from app.domain.jobs import JobKind
from app.storage.records import DecisionRecord
from app.storage.shadow_report import ShadowReport

router = APIRouter(prefix="/api/v1", tags=["cycles"])
ChanId = Path(pattern=r"^[0-9]{1,20}$", description="uint64 short channel id")
DecisionId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


@router.post("/nodes/{node_id}/sync", responses=STILL_RUNNING)
async def sync_node(
    node: OperatedNode,
    principal: CurrentPrincipal,
    cycles: Cycles,
    runtime: Runtime,
    response: Response,
    wait: Wait = True,
) -> dict[str, Any]:
    """Read the node now, score its channels and keep the snapshot (as a job: 202 when it takes longer)."""
    job = await runtime.jobs.start(
        node, JobKind.SYNC, principal.key_id, lambda: cycles.sync(node, actor=principal.key_id)
    )
    return await answer(runtime, job, response, wait)


@router.get("/nodes/{node_id}/channels", response_model=ChannelPageOut)
async def list_channels(
    node: ViewedNode, cycles: Cycles, limit: Limit = 100, cursor: Cursor = None
) -> Response:
    """Channels with their current policy and latest score, paged by chan_id."""
    # The page is sent as the cached bytes: re-validating 100 channels per request would cost more than the read.
    return Response(await cycles.channels.page(node, limit, cursor), media_type="application/json")


@router.get("/nodes/{node_id}/channels/{chan_id}/score", response_model=dict[str, Any])
async def channel_score(node: ViewedNode, cycles: Cycles, chan_id: str = ChanId) -> Response:
    """The full breakdown of one channel's score, with each heuristic's facts."""
    return Response(await cycles.score_body(node, chan_id), media_type="application/json")


@router.post("/nodes/{node_id}/optimize", responses=STILL_RUNNING)
async def optimize_node(
    node: OperatedNode,
    principal: CurrentPrincipal,
    cycles: Cycles,
    runtime: Runtime,
    response: Response,
    body: OptimizeIn | None = None,
    wait: Wait = True,
) -> dict[str, Any]:
    """Run a cycle and store its decisions; in `canary` or `live` mode also write the approved ones (as a job)."""
    mode = (body or OptimizeIn()).mode
    job = await runtime.jobs.start(
        node, JobKind.OPTIMIZE, principal.key_id, lambda: cycles.optimize(node, mode, actor=principal.key_id)
    )
    return await answer(runtime, job, response, wait)


@router.get("/nodes/{node_id}/decisions", response_model=PageOut[ListedDecisionOut])
async def list_decisions(
    node: ViewedNode,
    cycles: Cycles,
    status: DecisionStatus | None = None,
    kind: DecisionKind | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """The node's decisions, newest first, without their score breakdowns (GET /api/v1/decisions/{id})."""
    # Sent as the remembered bytes: serialising 50 decisions per request would cost more than the read.
    body = await cycles.decisions_body(node, status, kind, limit, cursor)
    return Response(body, media_type="application/json")


@router.get("/decisions/{decision_id}")
async def get_decision(
    principal: CurrentPrincipal, cycles: Cycles, decision_id: str = DecisionId
) -> DecisionRecord:
    """One decision in full: its policies, reasons, validation and the score breakdown behind it."""
    return await cycles.decision(principal.require(ApiKeyRole.VIEWER), decision_id)


@router.post("/decisions/{decision_id}/approve")
async def approve(
    principal: CurrentPrincipal, cycles: Cycles, decision_id: str = DecisionId
) -> DecisionRecord:
    """Approve a decision that waits for an operator; one of a live or canary cycle is written at once."""
    tenant_id = principal.require(ApiKeyRole.OPERATOR)
    return await cycles.review(tenant_id, decision_id, approve=True, actor=principal.key_id)


@router.post("/decisions/{decision_id}/reject")
async def reject(
    principal: CurrentPrincipal, cycles: Cycles, decision_id: str = DecisionId
) -> DecisionRecord:
    """Reject a pending or approved decision."""
    tenant_id = principal.require(ApiKeyRole.OPERATOR)
    return await cycles.review(tenant_id, decision_id, approve=False, actor=principal.key_id)


@router.get("/nodes/{node_id}/shadow/report")
async def shadow_report(node: ViewedNode, cycles: Cycles, days: int = Query(14, ge=1, le=90)) -> ShadowReport:
    """What shadow mode would have changed, per day and per channel."""
    return await cycles.shadow_report(node, days)
