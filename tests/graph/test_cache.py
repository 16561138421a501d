"""The on-disk cache of parsed graphs and centrality: same graph as parsing, keyed by content, self-healing."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import numpy as np
import orjson
import pytest

import app.graph.cache as cache_module
from app.graph.cache import GraphCache
from app.graph.centrality import CentralityScores
from app.graph.loader import load_graph
from app.graph.model import ChannelGraph, PolicyColumns
from app.graph.synthetic import generate_graph, generate_graph_document
from app.settings import Settings


def write_graph(path: Path, seed: int = 3) -> Path:
    document = generate_graph_document(seed=seed, node_count=300, channel_count=900)
    data = orjson.dumps(document)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def assert_same_graph(cached: ChannelGraph, parsed: ChannelGraph) -> None:
    for column in dataclasses.fields(ChannelGraph):
        mine, theirs = getattr(cached, column.name), getattr(parsed, column.name)
        if isinstance(mine, PolicyColumns):
            for policy_column in dataclasses.fields(PolicyColumns):
                left, right = getattr(mine, policy_column.name), getattr(theirs, policy_column.name)
                assert left.dtype == right.dtype and np.array_equal(left, right), policy_column.name
        elif isinstance(mine, np.ndarray):
            assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs), column.name
        else:
            assert mine == theirs, column.name


def refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("the cache should have answered")


@pytest.mark.parametrize("name", ["graph.json", "graph.json.gz"])
def test_a_second_load_comes_from_the_cache_and_equals_the_parsed_graph(tmp_path, monkeypatch, name):
    path = write_graph(tmp_path / name)
    cache = GraphCache(tmp_path / "cache")
    first = cache.load_graph(path)
    monkeypatch.setattr(cache_module, "decode_graph", refuse)
    second = cache.load_graph(path)
    parsed = load_graph(path)
    assert parsed.content_digest is not None and len(parsed.content_digest) == 64
    assert_same_graph(first, parsed)
    assert_same_graph(second, parsed)
    assert len(list((tmp_path / "cache").glob("graph-*.npz"))) == 1


def test_a_changed_file_is_parsed_again(tmp_path):
    path = write_graph(tmp_path / "graph.json", seed=3)
    cache = GraphCache(tmp_path / "cache")
    before = cache.load_graph(path)
    write_graph(path, seed=4)
    after = cache.load_graph(path)
    assert after.content_digest != before.content_digest
    assert_same_graph(after, load_graph(path))
    assert len(list((tmp_path / "cache").glob("graph-*.npz"))) == 2


def test_a_damaged_entry_is_ignored_and_rewritten(tmp_path, monkeypatch):
    path = write_graph(tmp_path / "graph.json")
    cache = GraphCache(tmp_path / "cache")
    cache.load_graph(path)
    (entry,) = (tmp_path / "cache").glob("graph-*.npz")
    entry.write_bytes(entry.read_bytes()[:1000])
    assert_same_graph(cache.load_graph(path), load_graph(path))
    monkeypatch.setattr(cache_module, "decode_graph", refuse)
    assert_same_graph(cache.load_graph(path), load_graph(path))  # the rewritten entry is whole again


def test_an_unwritable_cache_only_costs_speed(tmp_path):
    path = write_graph(tmp_path / "graph.json")
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory should be")
    assert_same_graph(GraphCache(blocked).load_graph(path), load_graph(path))


def assert_same_centrality(cached: CentralityScores, computed: CentralityScores) -> None:
    for name in ("betweenness", "harmonic", "degree", "pagerank"):
        assert np.array_equal(getattr(cached, name), getattr(computed, name)), name
    assert (cached.mode, cached.betweenness_samples, cached.closeness_samples, cached.seed) == (
        computed.mode,
        computed.betweenness_samples,
        computed.closeness_samples,
        computed.seed,
    )


def test_centrality_is_cached_per_graph_file_and_setting(tmp_path, monkeypatch):
    path = write_graph(tmp_path / "graph.json")
    cache = GraphCache(tmp_path / "cache")
    graph = cache.load_graph(path)
    settings = Settings(centrality_samples=32, closeness_samples=16)
    computed = cache.centrality(graph, settings)
    other_seed = cache.centrality(graph, settings.model_copy(update={"centrality_seed": 7}))
    assert len(list((tmp_path / "cache").glob("centrality-*.npz"))) == 2
    monkeypatch.setattr(cache_module, "centrality_for", refuse)
    assert_same_centrality(cache.centrality(graph, settings), computed)
    assert_same_centrality(
        cache.centrality(graph, settings.model_copy(update={"centrality_seed": 7})), other_seed
    )


def test_a_generated_graph_is_never_cached(tmp_path):
    graph = generate_graph(seed=5, node_count=200, channel_count=600)
    assert graph.content_digest is None
    GraphCache(tmp_path / "cache").centrality(graph, Settings(centrality_samples=32, closeness_samples=16))
    assert not (tmp_path / "cache").exists()
