"""Whole cycles produce exactly the pinned output.

Regenerated deliberately when a rule changes: `python -m tests.engine.cycle_scenarios --write`.
"""

from __future__ import annotations

import pytest

from tests.engine.cycle_scenarios import load_golden, real_graph_digests, synthetic_digests


@pytest.fixture(scope="module")
def golden():
    return load_golden()


def test_synthetic_cycles_match_their_golden_digests(golden):
    digests = synthetic_digests()
    assert len(digests) == 24  # three nodes x eight variants: none silently dropped
    changed = sorted(name for name, digest in digests.items() if golden["synthetic"].get(name) != digest)
    assert not changed, f"cycle output changed for: {changed}"


def test_acinq_on_the_public_snapshot_matches_its_golden_digest(golden, real_graph, real_centrality):
    assert real_graph_digests(real_graph, real_centrality) == golden["real"]
