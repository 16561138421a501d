"""ASGI application factory: builds shared resources once in the lifespan and puts them on app.state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.health import router as health_router
from app.graph.centrality import compute_centrality_async
from app.graph.model import ChannelGraph
from app.graph.source import resolve_graph
from app.runtime import GraphState
from app.settings import Settings, get_settings

log = logging.getLogger(__name__)


async def load_graph_state(settings: Settings, state: GraphState) -> None:
    """Load the graph and its centrality off the event loop; record the outcome on `state`."""
    try:
        graph: ChannelGraph = await asyncio.to_thread(
            resolve_graph, settings.graph_file, settings.synthetic_graph_seed
        )
        if graph.synthetic:
            log.warning("%s", graph.notes[0])
        state.graph = graph
        state.centrality = await compute_centrality_async(
            graph,
            betweenness_samples=settings.centrality_samples,
            closeness_samples=settings.closeness_samples,
            seed=settings.centrality_seed,
            threads=settings.worker_threads,
        )
        log.info("graph ready: %d nodes, %d channels", graph.node_count, graph.edge_count)
    except Exception as exc:  # recorded for /ready; the process stays up to report it
        state.error = f"{type(exc).__name__}: {exc}"
        log.exception("loading the channel graph failed")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; nothing heavy happens until the lifespan starts."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = GraphState()
        app.state.settings = settings
        app.state.graph_state = state
        loader = asyncio.create_task(load_graph_state(settings, state), name="graph-loader")
        try:
            yield
        finally:
            loader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loader

    app = FastAPI(title="Lightning fee control plane", version="0.1.0", lifespan=lifespan)
    app.include_router(health_router)
    return app
