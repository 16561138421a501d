"""ASGI application factory: builds shared resources once in the lifespan and puts them on app.state."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import Depends, FastAPI

from app.alerts.service import start_alerting
from app.api.body_limits import BodyLimitMiddleware
from app.api.docs import router as docs_router
from app.api.errors import register_error_handlers
from app.api.health import router as health_router
from app.api.query_params import refuse_unknown_query
from app.api.request_id import RequestIdMiddleware
from app.api.routes.accounts import router as accounts_router
from app.api.routes.alerts import router as alerts_router
from app.api.routes.cycles import router as cycles_router
from app.api.routes.execution import router as execution_router
from app.api.routes.jobs import router as jobs_router
from app.api.routes.nodes import router as nodes_router
from app.api.schemas import ERROR_RESPONSES
from app.cache.facade import Cache
from app.dashboard.router import router as dashboard_router
from app.engine.profile import load_profiles
from app.errors import ConfigError
from app.graph.centrality import CentralityScores, centrality_for
from app.graph.model import ChannelGraph
from app.graph.source import resolve_graph
from app.observability.logging_setup import configure_service_logging
from app.observability.metrics import CENTRALITY_SECONDS
from app.observability.metrics_http import RequestMetricsMiddleware
from app.parent_watch import follow_parent, sigint_blocked
from app.resilience.ratelimit import KeyRateLimiter
from app.runtime import GraphState
from app.scheduler.jobs import background_jobs
from app.scheduler.supervisor import supervise
from app.security.private_files import read_private_file
from app.security.vault import Vault, load_keyring
from app.services.accounts import AccountService
from app.services.clients import client_registry
from app.services.graphs import GraphCache
from app.services.runtime import ServiceRuntime
from app.settings import Settings, get_settings
from app.storage.database import Storage, open_storage
from app.version import package_version

log = logging.getLogger(__name__)


def load_graph_and_centrality(settings: Settings) -> tuple[ChannelGraph, CentralityScores]:
    """Load the configured graph and compute its centrality (runs in a worker process)."""
    graph = resolve_graph(settings.graph_file, settings.synthetic_graph_seed)
    return graph, centrality_for(graph, settings)


async def load_graph_state(settings: Settings, state: GraphState, executor: Executor) -> None:
    """Fill `state` from a worker process, so JSON parsing and graph maths never hold the loop's GIL."""
    try:
        loop = asyncio.get_running_loop()
        with sigint_blocked():  # the worker process starts here; see app/parent_watch.py
            loading = loop.run_in_executor(executor, load_graph_and_centrality, settings)
        graph, centrality = await loading
        CENTRALITY_SECONDS.observe(centrality.seconds)  # timed in the worker, whose registry is not scraped
        if graph.synthetic:
            log.warning("%s", graph.notes[0])
        state.graph, state.centrality = graph, centrality
        log.info("graph ready: %d nodes, %d channels", graph.node_count, graph.edge_count)
        # What is loaded by now lives as long as the process: out of the collector's sight, a full
        # collection no longer walks it (such pauses were the p99 of the cached reads).
        gc.freeze()
    except Exception as exc:  # recorded for /ready; the process stays up to report it
        state.error = f"{type(exc).__name__}: {exc}"
        log.exception("loading the channel graph failed")


def graph_workers() -> ProcessPoolExecutor:
    """The worker process for graph loading and centrality.

    "spawn": forking a process that already runs threads (uvicorn, NetworKit) is unsafe. The worker
    stops when the service does, even a service killed with SIGKILL: without that watch each kill left
    an orphan of about 100 MB behind. It ignores Ctrl-C, which is the service's to handle: the service
    shuts the pool down.
    """
    return ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=follow_parent
    )


def admin_key(settings: Settings) -> str | None:
    """The bootstrap platform-admin key from MCP_ADMIN_API_KEY or a 0600 key file."""
    if settings.admin_api_key is not None:
        return settings.admin_api_key.get_secret_value().strip() or None
    if settings.admin_api_key_file is not None:
        return read_private_file(settings.admin_api_key_file, "admin API key file").decode().strip() or None
    return None


SHUTDOWN_STEP_S = 10.0  # no single close may hold shutdown longer than this


async def watch_health(runtime: ServiceRuntime) -> None:
    """Refresh the degraded mode every few seconds, so /ready and metrics follow outages and recoveries."""
    while True:
        await runtime.refresh_health()
        await asyncio.sleep(runtime.settings.health_interval_s)


def bounded(close: Callable[[], Awaitable[None]], what: str) -> Callable[[], Awaitable[None]]:
    """A close step that gives up (with a warning) instead of hanging the shutdown."""

    async def run() -> None:
        try:
            await asyncio.wait_for(close(), timeout=SHUTDOWN_STEP_S)
        except TimeoutError:
            log.warning("closing %s took longer than %.0f s; giving up on it", what, SHUTDOWN_STEP_S)

    return run


async def build_runtime(
    settings: Settings, stack: AsyncExitStack, executor: Executor, state: GraphState
) -> ServiceRuntime:
    """Storage, cache, vault and the shared services; every resource is closed by `stack`."""
    storage: Storage = await open_storage(settings)
    stack.push_async_callback(bounded(storage.close, "storage"))
    cache = Cache.from_settings(settings)
    await cache.start()
    stack.push_async_callback(bounded(cache.close, "cache"))
    vault = Vault(load_keyring(settings), storage.audit_sink)
    clients = client_registry(storage, vault, settings)
    stack.push_async_callback(bounded(clients.close, "node clients"))
    return ServiceRuntime(
        settings=settings,
        storage=storage,
        cache=cache,
        vault=vault,
        profiles=load_profiles(settings.thresholds_file),
        default_graph=state,
        graphs=GraphCache(settings, executor),
        clients=clients,
        limiter=KeyRateLimiter(settings.rate_limit_per_second),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; nothing heavy happens until the lifespan starts."""
    try:
        settings = settings or get_settings()
    except ConfigError as exc:  # one line naming the variable, not a traceback from the server's loader
        raise SystemExit(f"error: {exc.message}") from None
    configure_service_logging(settings)  # after uvicorn's own set-up, which it replaces

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = GraphState()
        app.state.settings = settings
        app.state.graph_state = state
        async with AsyncExitStack() as stack:
            executor = graph_workers()
            # Waiting (bounded) for the worker to exit releases its semaphores; not waiting leaked them.
            stack.push_async_callback(
                bounded(
                    lambda: asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True), "workers"
                )
            )
            runtime = await build_runtime(settings, stack, executor, state)
            app.state.runtime = runtime
            app.state.accounts = AccountService(runtime.storage, admin_key(settings), runtime.cache)
            app.state.alerting, alert_tasks = await start_alerting(runtime, stack)  # before the jobs below
            tasks = [
                *alert_tasks,
                asyncio.create_task(load_graph_state(settings, state, executor), name="graph-loader"),
                asyncio.create_task(watch_health(runtime), name="health-watch"),
            ]
            tasks += [
                asyncio.create_task(supervise(name, job), name=name)
                for name, job in background_jobs(runtime).items()
            ]
            try:
                yield
            finally:
                await runtime.jobs.close()  # recorded as interrupted while storage is still open
                for task in tasks:
                    task.cancel()
                await asyncio.wait(tasks, timeout=SHUTDOWN_STEP_S)

    # /docs comes from app/api/docs.py (served offline); ReDoc would load from a CDN, so it is off.
    app = FastAPI(
        title="Lightning fee control plane",
        version=package_version(),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(refuse_unknown_query)],
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetricsMiddleware)  # outside the body limit: its 413s are counted too
    app.add_middleware(RequestIdMiddleware)  # added last, so outermost: every answer carries the id
    register_error_handlers(app)
    app.include_router(health_router)
    app.include_router(docs_router)
    routers = (accounts_router, nodes_router, cycles_router, execution_router, jobs_router, alerts_router)
    for router in routers:
        app.include_router(router, responses=ERROR_RESPONSES)
    app.include_router(dashboard_router)
    return app
