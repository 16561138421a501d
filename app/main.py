"""ASGI application factory: builds shared resources once in the lifespan and puts them on app.state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.health import router as health_router
from app.graph.centrality import CentralityScores, centrality_for
from app.graph.model import ChannelGraph
from app.graph.source import resolve_graph
from app.runtime import GraphState
from app.settings import Settings, get_settings

log = logging.getLogger(__name__)


def load_graph_and_centrality(settings: Settings) -> tuple[ChannelGraph, CentralityScores]:
    """Load the configured graph and compute its centrality (runs in a worker process)."""
    graph = resolve_graph(settings.graph_file, settings.synthetic_graph_seed)
    centrality = centrality_for(graph, settings)
    return graph, centrality


async def load_graph_state(settings: Settings, state: GraphState, executor: Executor) -> None:
    """Fill `state` from a worker process, so JSON parsing and graph maths never hold the loop's GIL."""
    try:
        loop = asyncio.get_running_loop()
        graph, centrality = await loop.run_in_executor(executor, load_graph_and_centrality, settings)
        if graph.synthetic:
            log.warning("%s", graph.notes[0])
        state.graph, state.centrality = graph, centrality
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
        # "spawn": forking a process that already runs threads (uvicorn, NetworKit) is unsafe.
        executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        app.state.graph_executor = executor
        loader = asyncio.create_task(load_graph_state(settings, state, executor), name="graph-loader")
        try:
            yield
        finally:
            loader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loader
            executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="Lightning fee control plane", version="0.1.0", lifespan=lifespan)
    app.include_router(health_router)
    return app
