"""Open liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.runtime import GraphState

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/ready", response_model=None)
async def ready(request: Request) -> dict[str, Any] | JSONResponse:
    """Ready once the channel graph and its centrality are loaded; 503 with the reason otherwise."""
    state: GraphState = request.app.state.graph_state
    if state.ready and state.graph is not None and state.centrality is not None:
        return {
            "status": "ready",
            "graph": {
                "source": state.graph.source,
                "synthetic": state.graph.synthetic,
                "nodes": state.graph.node_count,
                "channels": state.graph.edge_count,
                "centrality_seconds": round(state.centrality.seconds, 3),
            },
        }
    reason = state.error or "loading the channel graph and its centrality"
    return JSONResponse(status_code=503, content={"status": "not_ready", "reason": reason})
