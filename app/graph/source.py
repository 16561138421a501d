"""Pick the channel graph to work on: the configured file, or a synthetic stand-in when the default is absent."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from app.graph.loader import load_graph
from app.graph.model import ChannelGraph
from app.graph.synthetic import generate_graph
from app.settings import DEFAULT_GRAPH_FILE


def resolve_graph(path: Path, synthetic_seed: int = 7) -> ChannelGraph:
    """Load `path`; only the default snapshot path falls back to a synthetic graph when missing.

    An explicitly configured file that is missing is an error: silently switching to made-up data
    would be dishonest towards an operator who pointed us at their own graph.
    """
    if path.exists() or path != DEFAULT_GRAPH_FILE:
        return load_graph(path)
    graph = generate_graph(seed=synthetic_seed)
    note = (
        f"graph file {path} not found: using a SYNTHETIC graph (seed {synthetic_seed}) that imitates the "
        "public snapshot's statistics; results do not describe the real network"
    )
    return dataclasses.replace(graph, notes=[note, *graph.notes])
