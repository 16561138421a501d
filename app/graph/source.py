"""Pick the channel graph to work on: a graph file, or a synthetic stand-in when the configured one is absent."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from app.graph.cache import GraphCache
from app.graph.loader import load_graph
from app.graph.model import ChannelGraph
from app.graph.synthetic import generate_graph


def resolve_graph(
    path: Path, synthetic_seed: int = 7, allow_synthetic: bool = True, cache: GraphCache | None = None
) -> ChannelGraph:
    """Load `path`; when it does not exist and `allow_synthetic`, generate a synthetic graph instead.

    The configured snapshot (MCP_GRAPH_FILE) may be absent on a clone without ../shared, so it falls back,
    with a note saying so. A file the operator named on the command line never falls back: silently
    switching to made-up data would be dishonest. With a `cache`, an unchanged file is read from it.
    """
    if path.exists() or not allow_synthetic:
        return cache.load_graph(path) if cache else load_graph(path)
    graph = generate_graph(seed=synthetic_seed)
    note = (
        f"graph file {path} not found: using a SYNTHETIC graph (seed {synthetic_seed}) that imitates the "
        "public snapshot's statistics; results do not describe the real network"
    )
    return dataclasses.replace(graph, notes=[note, *graph.notes])
