"""Key layout, escaping and validation, and the TTL classes."""

from __future__ import annotations

import pytest

from app.cache import TtlClass, cache_key, node_scope, tenant_scope
from app.errors import InvalidInputError

CRAFTED = ["a", "a:b", "a:b:c", "-", "%2D", "%3A", "*", "a*", "?", "[ab]", "\\", "#idx", "é", " ", "a/b"]


def test_layout_of_node_and_tenant_wide_keys() -> None:
    key = cache_key("t1", "02abc", "channels", "page", 3)
    assert key.key == "mcp:t1:02abc:channels:page:3"
    assert key.scope == "mcp:t1:02abc" == node_scope("t1", "02abc")
    assert str(key) == key.key
    assert cache_key("t1", None, "graph").key == "mcp:t1:-:graph"
    assert tenant_scope("t1") == "mcp:t1"


def test_a_node_called_dash_is_not_the_tenant_wide_scope() -> None:
    assert node_scope("t", "-") != node_scope("t", None)
    assert cache_key("t", "-", "k").key != cache_key("t", None, "k").key


@pytest.mark.parametrize("tenant", CRAFTED)
@pytest.mark.parametrize("node", CRAFTED)
def test_crafted_ids_stay_in_their_namespace(tenant: str, node: str) -> None:
    key = cache_key(tenant, node, "kind:x", "p:q")
    # Always exactly root, tenant, node, kind, one part: no id adds or removes a separator.
    assert key.key.count(":") == 4
    assert not any(glob in key.key for glob in "*?[]\\")
    root, esc_tenant, esc_node, *_ = key.key.split(":")
    assert root == "mcp"
    assert key.scope == f"mcp:{esc_tenant}:{esc_node}"
    assert key.key.startswith(tenant_scope(tenant) + ":")


def test_escaping_is_injective_over_crafted_ids() -> None:
    keys = {cache_key(t, n, "k").key for t in CRAFTED for n in CRAFTED}
    assert len(keys) == len(CRAFTED) ** 2
    assert (
        len({cache_key("t", "n", "k", *parts).key for parts in [(), ("",), ("", ""), ("a:b",), ("a", "b")]})
        == 5
    )


@pytest.mark.parametrize(
    ("tenant", "node", "kind"), [("", "n", "k"), ("t", "", "k"), ("t", "n", ""), ("x" * 513, "n", "k")]
)
def test_empty_or_oversized_components_are_refused(tenant: str, node: str, kind: str) -> None:
    with pytest.raises(InvalidInputError):
        cache_key(tenant, node, kind)


def test_ttl_classes() -> None:
    assert {c: c.seconds for c in TtlClass} == {
        TtlClass.NODE: 300,
        TtlClass.CHANNELS: 600,
        TtlClass.METRICS: 60,
        TtlClass.SCORES: 900,
        TtlClass.HEAVY: 1800,
    }
