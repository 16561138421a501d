"""The channel graph and its centrality per node, kept in process for the heavy-computation TTL (30 min)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from app.cache.ttl import TtlClass
from app.graph.centrality import CentralityScores, centrality_for
from app.graph.model import ChannelGraph
from app.observability.metrics import CENTRALITY_SECONDS
from app.settings import Settings


@dataclass(frozen=True)
class ScoredGraph:
    """A graph with its centrality, and when they were computed."""

    graph: ChannelGraph
    centrality: CentralityScores
    computed_at: float


class GraphCache:
    """Per-node graphs: numpy-backed objects too large for Redis, so they live here with a TTL."""

    def __init__(self, settings: Settings, executor: Executor | None) -> None:
        self._settings = settings
        self._executor = executor
        self._entries: dict[str, ScoredGraph] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, key: str, fetch: Callable[[], Awaitable[ChannelGraph]]) -> ScoredGraph:
        """The cached entry, or fetch the graph and compute its centrality off the event loop (once per key)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._entries.get(key)
            if entry is not None and time.monotonic() - entry.computed_at < TtlClass.HEAVY.seconds:
                return entry
            graph = await fetch()
            loop = asyncio.get_running_loop()
            centrality = await loop.run_in_executor(self._executor, centrality_for, graph, self._settings)
            # Timed in the worker process, whose registry nobody scrapes: recorded here, where /metrics reads.
            CENTRALITY_SECONDS.observe(centrality.seconds)
            entry = ScoredGraph(graph, centrality, time.monotonic())
            self._entries[key] = entry
            return entry

    def drop(self, key: str) -> None:
        """Forget a node's graph (node deleted)."""
        self._entries.pop(key, None)
