"""Factories for policies, decisions and validation contexts used by the policy tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest

from app.domain.decision import Decision, DecisionKind
from app.domain.policy import ChannelPolicy
from app.domain.scoring import ScoreBreakdown
from app.graph.model import ChannelGraph
from app.policy.limits import ValidationContext
from app.storage.database import Storage
from tests.storage.conftest import mongo_url, storage  # noqa: F401  (execution tests need real storage)

CHAN_ID = "871234567890123456"
NOW_S = 1_770_000_000  # 2026-02-02, a fixed clock: the validator never reads one
CAPACITY_SAT = 1_000_000  # default reserve 1 % -> max_htlc limit 990_000_000 msat

if TYPE_CHECKING:
    from tests.policy.execution_env import ExecutionEnv

PolicyFactory = Callable[..., ChannelPolicy]
DecisionFactory = Callable[..., Decision]
ContextFactory = Callable[..., ValidationContext]


def build_policy(**fields: Any) -> ChannelPolicy:
    """A policy inside the default limits, with `fields` overriding it."""
    values: dict[str, Any] = {
        "base_fee_msat": 1_000,
        "fee_rate_ppm": 100,
        "time_lock_delta": 40,
        "min_htlc_msat": 1_000,
        "max_htlc_msat": 500_000_000,
        "inbound_base_fee_msat": 0,
        "inbound_fee_rate_ppm": 0,
    }
    values.update(fields)
    return ChannelPolicy(**values)


def build_decision(
    current: ChannelPolicy | None = None,
    kind: DecisionKind = DecisionKind.RAISE_FEE,
    *,
    chan_id: str = CHAN_ID,
    confidence: float = 0.8,
    proposed: ChannelPolicy | None = None,
    **changes: Any,
) -> Decision:
    """A decision from `current` (default policy) to `proposed`, or to `current` with `changes` applied."""
    current = current or build_policy()
    if proposed is None:
        proposed = ChannelPolicy(**{**current.model_dump(), **changes})
    return Decision(
        chan_id=chan_id,
        kind=kind,
        current_policy=current,
        proposed_policy=proposed,
        confidence=confidence,
        total_score=0.5,
        breakdown=ScoreBreakdown(chan_id=chan_id, total=0.5, known_weight=1.0, scores=[]),
        reasons=["test"],
    )


def build_context(**fields: Any) -> ValidationContext:
    """A context for a 1 M sat channel, never updated, with a fresh daily budget, `fields` overriding it."""
    values: dict[str, Any] = {"capacity_sat": CAPACITY_SAT, "now_s": NOW_S}
    values.update(fields)
    return ValidationContext(**values)


# Session scope: hypothesis refuses function-scoped fixtures, and the factories hold no state.
@pytest.fixture(scope="session")
def make_policy() -> PolicyFactory:
    """Factory of valid policies."""
    return build_policy


@pytest.fixture(scope="session")
def make_decision() -> DecisionFactory:
    """Factory of decisions."""
    return build_decision


@pytest.fixture(scope="session")
def make_context() -> ContextFactory:
    """Factory of validation contexts."""
    return build_context


@pytest.fixture(scope="module")
def hub() -> ChannelGraph:
    """The synthetic graph of the execution tests, built once per module."""
    from tests.policy.execution_env import hub_graph  # here: execution_env itself imports this module

    return hub_graph()


@pytest.fixture
async def env(storage: Storage, hub: ChannelGraph) -> AsyncIterator[ExecutionEnv]:  # noqa: F811
    """A fresh simulated hub over HTTP, real storage and a clock the test moves."""
    from tests.policy.execution_env import execution_env

    async with execution_env(storage, hub) as made:
        yield made
