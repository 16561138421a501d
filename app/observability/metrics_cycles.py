"""Prometheus metrics of cycles, decisions and writes, recorded by the services that run them (the API process).

Each histogram here is observed where its work happens, in the service process that /metrics exports;
nothing is registered for work done elsewhere (the graph worker, the CLI), so no histogram stays at zero.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

from app.domain.execution import TransactionKind
from app.domain.validation import ValidationResult, Verdict
from app.errors import DomainError
from app.services.actors import HEALTH_ACTOR
from app.storage.execution_records import TransactionRecord
from app.storage.records import DecisionRecord

CYCLE_PHASE_SECONDS = Histogram(
    "mcp_cycle_phase_seconds",
    "Wall time of one phase of a cycle (observe: read and score the node; decide: store the decisions; "
    "execute: write the approved ones)",
    ["phase"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)
CYCLE_PHASES = Counter(
    "mcp_cycle_phases_total",
    "Cycle phases by outcome (ok, or the error code that ended it)",
    ["phase", "outcome"],
)
DECISIONS = Counter("mcp_decisions_total", "Decisions made by cycles, by kind and mode", ["kind", "mode"])
VALIDATOR_REFUSALS = Counter(
    "mcp_validator_refusals_total",
    "Issues of proposals the validator refused, by code and gate (cycle: when deciding; write: right before "
    "the write, on the policy read fresh from the node)",
    ["code", "gate"],
)
WRITES = Counter(
    "mcp_policy_writes_total", "Channels of finished batches by outcome and batch kind", ["outcome", "kind"]
)
TRANSACTIONS = Counter(
    "mcp_transactions_total", "Finished batches by kind and final state", ["kind", "state"]
)
ROLLBACKS = Counter(
    "mcp_rollbacks_total", "Rollback batches by trigger (automatic: the health watch; operator)", ["trigger"]
)


@contextmanager
def cycle_phase(phase: str) -> Iterator[None]:
    """Time one phase of a cycle and count its outcome."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        yield
    except DomainError as exc:
        outcome = exc.code
        raise
    except BaseException:
        outcome = "error"
        raise
    finally:
        CYCLE_PHASE_SECONDS.labels(phase).observe(time.perf_counter() - started)
        CYCLE_PHASES.labels(phase, outcome).inc()


def count_decisions(records: Iterable[DecisionRecord]) -> None:
    """Decisions of one cycle by kind, and the validator's refusals among them by issue code."""
    kinds: Tally[tuple[str, str]] = Tally()
    refusals: Tally[str] = Tally()
    for record in records:
        kinds[(record.kind.value, record.mode.value)] += 1
        if record.validation is not None and record.validation.verdict is Verdict.REJECTED:
            refusals.update(code.value for code in record.validation.codes)
    for (kind, mode), count in kinds.items():
        DECISIONS.labels(kind, mode).inc(count)
    for code, count in refusals.items():
        VALIDATOR_REFUSALS.labels(code, "cycle").inc(count)


def count_batch(transaction: TransactionRecord | None, refused: Iterable[ValidationResult] = ()) -> None:
    """A batch as it left the executor: write-time refusals and, once final, its state, writes and trigger.

    A batch still settling (unknown outcomes) is counted by the recovery pass that finishes it.
    """
    for code, count in Tally(code.value for result in refused for code in result.codes).items():
        VALIDATOR_REFUSALS.labels(code, "write").inc(count)
    if transaction is None or not transaction.state.terminal:
        return
    kind = transaction.kind.value
    TRANSACTIONS.labels(kind, transaction.state.value).inc()
    for outcome, count in transaction.counts.items():
        WRITES.labels(outcome, kind).inc(count)
    if transaction.kind is TransactionKind.ROLLBACK:
        ROLLBACKS.labels("automatic" if transaction.actor == HEALTH_ACTOR else "operator").inc()
