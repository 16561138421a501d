r"""A six-node graph whose scores are computed by hand in the tests.

  y   z
   \ /
x - p - us      (p is the hub; q links us, x and p)
 \  |  /
    q
"""

from __future__ import annotations

import pytest

from tests.factories import Edge, make_graph

HAND_GRAPH_EDGES: list[Edge] = [
    # (a, b, capacity, fee a charges towards b, fee b charges towards a)
    ("us", "p", 1_000_000, 100, 200),
    ("us", "q", 2_000_000, 50, 10),
    ("p", "x", 2_000_000, 40, 300),
    ("p", "y", 3_000_000, None, 60),
    ("p", "z", 4_000_000, 30, 500),
    ("q", "p", 5_000_000, 1000, 20),
    ("q", "x", 1_000_000, 5, 5),
]


@pytest.fixture(scope="module")
def hand_graph():
    """The hand-computed graph."""
    return make_graph(HAND_GRAPH_EDGES)
