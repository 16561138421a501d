"""Progress and timing lines on stderr, so stdout stays clean for results."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the API clients' commands print progress without NumPy and the graph
    from app.graph.cache import GraphCache
    from app.graph.model import ChannelGraph
    from app.settings import Settings


@contextmanager
def step(label: str) -> Iterator[None]:
    """Print `label ...` then the elapsed time when the block ends."""
    print(f"{label} ...", end="", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        print(" failed", file=sys.stderr, flush=True)
        raise
    print(f" {time.perf_counter() - started:.2f} s", file=sys.stderr, flush=True)


def graph_cache(settings: Settings) -> GraphCache:
    """The commands' cache of parsed graphs and centrality: `<data_dir>/cache/`."""
    from app.graph.cache import GraphCache

    return GraphCache(settings.data_dir / "cache")


def load_graph_for_cli(explicit: Path | None, settings: Settings) -> ChannelGraph:
    """The graph named on the command line (must exist) or the configured one (synthetic when absent)."""
    from app.graph.source import resolve_graph

    with step("loading channel graph"):
        graph = resolve_graph(
            explicit or settings.graph_file,
            settings.synthetic_graph_seed,
            allow_synthetic=explicit is None,
            cache=graph_cache(settings),
        )
    if graph.synthetic:
        note(f"note: {graph.notes[0]}")
    return graph


def note(message: str) -> None:
    """An informational line on stderr."""
    print(message, file=sys.stderr, flush=True)
