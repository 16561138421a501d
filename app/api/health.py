"""Open probes and metrics: liveness, readiness with the degraded mode, Prometheus exposition."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.resilience.modes import ServiceMode
from app.runtime import GraphState

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/ready", response_model=None)
async def ready(request: Request) -> dict[str, Any] | JSONResponse:
    """Ready when the graph is loaded and storage answers; the body names the current degraded mode."""
    state: GraphState = request.app.state.graph_state
    runtime = getattr(request.app.state, "runtime", None)
    mode = runtime.mode() if runtime is not None else ServiceMode.FULL
    body: dict[str, Any] = {"mode": mode.value}
    if runtime is not None:
        body["cache"] = runtime.cache.stats().mode.value
        # Nothing about nodes: this route is open, and nodes (even their number) belong to their tenants.
    if state.ready and state.graph is not None and state.centrality is not None:
        body["graph"] = {
            "source": PurePath(state.graph.source).name,  # an open route: the file's name, not its path
            "synthetic": state.graph.synthetic,
            "nodes": state.graph.node_count,
            "channels": state.graph.edge_count,
            "centrality_seconds": round(state.centrality.seconds, 3),
        }
    if not state.ready or mode is ServiceMode.READ_ONLY:
        reason = state.error or ("loading the channel graph" if not state.ready else "storage is unavailable")
        return JSONResponse(status_code=503, content={"status": "not_ready", "reason": reason, **body})
    return {"status": "ready", **body}


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus text exposition of the default registry."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
