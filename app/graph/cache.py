"""On-disk cache of a parsed graph file and of its centrality, so a command reloads them in milliseconds.

Entries live in `<data_dir>/cache/` (MCP_DATA_DIR, default `data/cache/`), one plain `.npz` (no pickle) per
graph file and per centrality setting. Their names carry the SHA-256 of the graph file's bytes and a format
version; centrality entries also carry every parameter and the NetworKit and SciPy versions that computed
them. A changed file or setting therefore misses and is parsed or computed again; a damaged or unreadable
entry is ignored and rewritten. Deleting the directory is always safe.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import orjson

from app.graph.centrality import CentralityMode, CentralityScores, centrality_for
from app.graph.loader import content_digest, decode_graph, read_graph_file
from app.graph.model import ChannelGraph, PolicyColumns

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
POLICY_COLUMNS = tuple(column.name for column in dataclasses.fields(PolicyColumns))
CENTRALITY_ARRAYS = ("betweenness", "harmonic", "degree", "pagerank")
T = TypeVar("T")
Array = np.ndarray[Any, Any]
Arrays = Mapping[str, Array]
# What np.load and a damaged or foreign file may raise; any of them only means "not cached".
UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, orjson.JSONDecodeError)


class GraphCache:
    """Parsed graphs and their centrality, stored under one directory."""

    def __init__(self, directory: Path) -> None:
        """Use `directory` (created on the first store)."""
        self.directory = directory

    def load_graph(self, path: Path) -> ChannelGraph:
        """The graph in the file at `path`: from the cache when the file's bytes are unchanged, else parsed."""
        raw = read_graph_file(path)
        digest = content_digest(raw)
        entry = self.directory / f"graph-{digest}-v{FORMAT_VERSION}.npz"
        cached = self._read(entry, lambda arrays: _graph_from_arrays(arrays, str(path), digest))
        if cached is not None:
            return cached
        graph = decode_graph(raw, path)
        self._write(entry, _graph_arrays(graph))
        return graph

    def centrality(self, graph: ChannelGraph, settings: Settings) -> CentralityScores:
        """What `centrality_for` computes, read from the cache when the graph was read from a file."""
        if graph.content_digest is None:
            return centrality_for(graph, settings)  # a generated graph has nothing to key an entry by
        libraries = "-".join(_library_version(name) for name in ("networkit", "scipy"))
        entry = self.directory / (
            f"centrality-{graph.content_digest}-b{settings.centrality_samples}-c{settings.closeness_samples}"
            f"-s{settings.centrality_seed}-t{settings.worker_threads}-{libraries}-v{FORMAT_VERSION}.npz"
        )
        cached = self._read(entry, _centrality_from_arrays)
        if cached is not None:
            return cached
        scores = centrality_for(graph, settings)
        self._write(entry, _centrality_arrays(scores))
        return scores

    def _read(self, entry: Path, build: Callable[[Arrays], T]) -> T | None:
        """The entry decoded by `build`, or None when it is absent or cannot be read."""
        if not entry.exists():
            return None
        try:
            with np.load(entry, allow_pickle=False) as arrays:
                return build(arrays)
        except UNREADABLE as exc:
            log.warning("ignoring unreadable cache entry %s (%s); it will be rewritten", entry, exc)
            return None

    def _write(self, entry: Path, arrays: dict[str, Array]) -> None:
        """Store an entry atomically (a reader never sees half a file); a read-only disk only costs speed."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, suffix=".tmp", delete=False) as handle:
                np.savez(handle, allow_pickle=False, **arrays)
            os.replace(handle.name, entry)
        except OSError as exc:
            log.warning("cannot write cache entry %s (%s); continuing without it", entry, exc)


def _library_version(name: str) -> str:
    """Installed version of a library whose results an entry holds ("none" when it is not installed)."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "none"


def _text(value: Any) -> Array:
    """JSON bytes as a uint8 array: lists of strings load far faster this way than as numpy string arrays."""
    return np.frombuffer(orjson.dumps(value), dtype=np.uint8)


def _untext(array: Array) -> Any:
    return orjson.loads(array.tobytes())


def _graph_arrays(graph: ChannelGraph) -> dict[str, Array]:
    """Every field of a graph as named arrays."""
    arrays = {
        "strings": _text(
            {
                "pubkeys": graph.pubkeys,
                "aliases": graph.aliases,
                "channel_ids": graph.channel_ids,
                "chan_points": graph.chan_points,
                "notes": graph.notes,
                "synthetic": graph.synthetic,
            }
        ),
        "node1": graph.node1,
        "node2": graph.node2,
        "capacity_sat": graph.capacity_sat,
    }
    for side, columns in (("policy1", graph.policy1), ("policy2", graph.policy2)):
        for name in POLICY_COLUMNS:
            arrays[f"{side}.{name}"] = getattr(columns, name)
    return arrays


def _graph_from_arrays(arrays: Arrays, source: str, digest: str) -> ChannelGraph:
    """The graph stored by `_graph_arrays`, with the source named by the caller."""
    strings = _untext(arrays["strings"])
    policies = [
        PolicyColumns(**{name: arrays[f"{side}.{name}"] for name in POLICY_COLUMNS})
        for side in ("policy1", "policy2")
    ]
    return ChannelGraph(
        pubkeys=strings["pubkeys"],
        aliases=strings["aliases"],
        channel_ids=strings["channel_ids"],
        chan_points=strings["chan_points"],
        node1=arrays["node1"],
        node2=arrays["node2"],
        capacity_sat=arrays["capacity_sat"],
        policy1=policies[0],
        policy2=policies[1],
        source=source,
        synthetic=strings["synthetic"],
        notes=strings["notes"],
        content_digest=digest,
    )


def _centrality_arrays(scores: CentralityScores) -> dict[str, Array]:
    arrays = {name: getattr(scores, name) for name in CENTRALITY_ARRAYS}
    arrays["meta"] = _text(
        {
            "mode": scores.mode.value,
            "betweenness_samples": scores.betweenness_samples,
            "closeness_samples": scores.closeness_samples,
            "seed": scores.seed,
            "seconds": scores.seconds,
        }
    )
    return arrays


def _centrality_from_arrays(arrays: Arrays) -> CentralityScores:
    """Centrality as stored; `seconds` stays the time the computation once took."""
    meta = _untext(arrays["meta"])
    return CentralityScores(
        betweenness=arrays["betweenness"],
        harmonic=arrays["harmonic"],
        degree=arrays["degree"],
        pagerank=arrays["pagerank"],
        mode=CentralityMode(meta["mode"]),
        betweenness_samples=meta["betweenness_samples"],
        closeness_samples=meta["closeness_samples"],
        seed=meta["seed"],
        seconds=meta["seconds"],
    )
