"""Loading LND `GET /v1/graph` JSON: the real snapshot and clear errors on malformed input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from app.errors import GraphFormatError
from app.graph.loader import load_graph, parse_graph
from tests.conftest import REAL_GRAPH_FILE, requires_real_graph
from tests.factories import graph_document, pubkey


@requires_real_graph
def test_real_snapshot_counts_match_its_readme(real_graph):
    assert real_graph.node_count == 17_324
    assert real_graph.edge_count == 50_808
    assert real_graph.synthetic is False
    assert any("SYNTHETIC" in note for note in real_graph.notes)


@requires_real_graph
def test_real_snapshot_largest_nodes(real_graph):
    acinq = real_graph.find_node("ACINQ")
    assert real_graph.degree(acinq) == 1_989
    top_two = sorted(range(real_graph.node_count), key=lambda i: -real_graph.degree(i))[:2]
    assert [real_graph.aliases[i] for i in top_two] == ["ACINQ", "1ML.com node ALPHA"]


@requires_real_graph
def test_real_snapshot_enabled_fee_median_matches_readme(real_graph):
    import numpy as np

    rates = np.concatenate(
        [
            real_graph.policy1.fee_rate_ppm[real_graph.policy1.enabled()],
            real_graph.policy2.fee_rate_ppm[real_graph.policy2.enabled()],
        ]
    )
    assert len(rates) == 65_810
    assert np.median(rates) == 100


def test_plain_and_gzip_files_load_the_same(tmp_path: Path):
    document = graph_document([("a", "b", 1_000_000, 10, 20), ("b", "c", 2_000_000, 30, None)])
    plain = tmp_path / "graph.json"
    plain.write_text(json.dumps(document))
    packed = tmp_path / "graph.json.gz"
    packed.write_bytes(gzip.compress(json.dumps(document).encode()))
    one, two = load_graph(plain), load_graph(packed)
    assert one.channel_ids == two.channel_ids
    assert one.capacity_sat.tolist() == two.capacity_sat.tolist() == [1_000_000, 2_000_000]


def test_int64_strings_and_missing_policy_are_parsed():
    graph = parse_graph(graph_document([("a", "b", 5_000, 7, None)]))
    edge = 0
    a = graph.index[pubkey("a")]
    b = graph.index[pubkey("b")]
    policy = graph.policy_of(edge, a)
    assert policy is not None
    assert policy.fee_rate_ppm == 7
    assert policy.min_htlc_msat == 1000
    assert graph.policy_of(edge, b) is None


def _edge_error(mutate) -> str:
    document = graph_document([("a", "b", 5_000, 7, 9), ("b", "c", 6_000, 1, 2)])
    mutate(document)
    with pytest.raises(GraphFormatError) as caught:
        parse_graph(document)
    return caught.value.message


def test_bad_integer_names_record_and_field():
    message = _edge_error(lambda d: d["edges"][1].update(capacity="12x"))
    assert "edges[1]" in message
    assert "'capacity'" in message
    assert "12x" in message


def test_bad_policy_field_names_nested_field():
    message = _edge_error(lambda d: d["edges"][0]["node2_policy"].update(fee_rate_milli_msat=-5))
    assert "edges[0]" in message
    assert "node2_policy.fee_rate_milli_msat" in message


def test_unknown_node_in_edge_is_reported():
    message = _edge_error(lambda d: d["edges"][1].update(node1_pub=pubkey("zzz")))
    assert "edges[1]" in message
    assert "node1_pub" in message


def test_bad_pubkey_and_duplicate_node():
    document = graph_document([("a", "b", 5_000, 7, 9)])
    document["nodes"][0]["pub_key"] = "04abc"
    with pytest.raises(GraphFormatError, match=r"nodes\[0\]: field 'pub_key'"):
        parse_graph(document)
    document = graph_document([("a", "b", 5_000, 7, 9)])
    document["nodes"].append(dict(document["nodes"][0]))
    with pytest.raises(GraphFormatError, match="duplicate pub_key"):
        parse_graph(document)


def test_missing_lists_and_broken_files(tmp_path: Path):
    with pytest.raises(GraphFormatError, match="'edges' must be a list"):
        parse_graph({"nodes": []})
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(GraphFormatError, match="not valid JSON"):
        load_graph(broken)
    with pytest.raises(GraphFormatError, match="does not exist"):
        load_graph(tmp_path / "missing.json")
    not_gzip = tmp_path / "fake.json.gz"
    not_gzip.write_text("plain")
    with pytest.raises(GraphFormatError, match="not valid gzip"):
        load_graph(not_gzip)


def test_real_snapshot_path_is_outside_the_project():
    assert "shared" in REAL_GRAPH_FILE.parts


def test_out_of_range_and_wrongly_typed_values_are_format_errors():
    message = _edge_error(lambda d: d["edges"][0]["node1_policy"].update(max_htlc_msat=str(2**64 - 1)))
    assert "out of range" in message and "node1_policy.max_htlc_msat" in message
    message = _edge_error(lambda d: d["edges"][0]["node1_policy"].update(disabled="false"))
    assert "node1_policy.disabled" in message


def test_odd_meta_is_ignored_and_directories_are_refused(tmp_path: Path):
    document = graph_document([("a", "b", 5_000, 7, 9)])
    document["_meta"] = "not an object"
    assert parse_graph(document).notes == []
    with pytest.raises(GraphFormatError, match="cannot be read"):
        load_graph(tmp_path)
