"""Crash recovery: every transaction left unfinished is resumed under its node's lease, idempotently.

On start-up and then periodically. A batch interrupted before its first send is abandoned (its decisions
are no longer fresh); channels sent or unknown are read back, and the batch commits or compensates; a
terminal batch whose effects were not yet written gets them. Running it twice changes nothing the second
time: terminal batches with their effects done are not touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from app.alerts.triggers import alert_on_transaction
from app.errors import DomainError, NotFoundError
from app.observability.metrics_cycles import count_batch
from app.observability.request_context import working_for
from app.policy.driver import Journal, TransactionDriver
from app.policy.effects import TransactionEffects
from app.services.actors import RECOVERY_ACTOR
from app.services.execution import driver_settings
from app.services.locks import NodeBusyError
from app.services.runtime import ServiceRuntime
from app.storage.execution_records import TransactionRecord

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    """What one recovery pass did, by transaction id."""

    finished: dict[str, str] = field(default_factory=dict)  # id -> terminal state reached
    still_open: dict[str, str] = field(default_factory=dict)  # id -> state (unknown outcomes wait)
    busy: list[str] = field(default_factory=list)  # the node's lease is held elsewhere: next pass
    orphaned: list[str] = field(default_factory=list)  # the node was deleted
    failed: dict[str, str] = field(default_factory=dict)  # id -> why (node unreachable, storage down)


class RecoveryService:
    """Finds unfinished transactions and drives each one forward."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def run_once(self) -> RecoveryReport:
        """One pass over every unfinished transaction of every tenant."""
        report = RecoveryReport()
        for transaction in await self.runtime.storage.transactions.unfinished():
            with working_for(transaction.tenant_id):
                await self._recover_one(transaction, report)
        if report.finished or report.failed:
            log.info(
                "recovery: %d finished, %d still open, %d busy, %d failed",
                len(report.finished), len(report.still_open), len(report.busy), len(report.failed),
            )  # fmt: skip
        return report

    async def _recover_one(self, transaction: TransactionRecord, report: RecoveryReport) -> None:
        """Recover one transaction; whatever goes wrong is reported and logged for it alone."""
        try:
            await self._recover(transaction, report)
        except NodeBusyError:
            report.busy.append(transaction.id)
        except DomainError as exc:
            report.failed[transaction.id] = exc.message
            log.warning("recovery of transaction %s failed: %s", transaction.id, exc.message)
        except Exception as exc:  # a bug in one transaction must not keep every other one unrecovered
            report.failed[transaction.id] = f"internal error ({type(exc).__name__})"
            log.exception("recovery of transaction %s failed unexpectedly", transaction.id)

    async def _recover(self, transaction: TransactionRecord, report: RecoveryReport) -> None:
        runtime = self.runtime
        storage = runtime.storage
        try:
            node = await storage.nodes.get(transaction.tenant_id, transaction.node_id)
        except NotFoundError:
            report.orphaned.append(transaction.id)
            return
        async with runtime.locks.hold(node.tenant_id, node.id, "recovery") as lock:
            current = await storage.transactions.get(transaction.tenant_id, transaction.id)
            if current.state.terminal and current.effects_done:
                return  # finished by its own process meanwhile
            client = await runtime.clients.get(node, RECOVERY_ACTOR)
            journal = Journal(storage.transactions, storage.journal, storage.backups)
            effects = TransactionEffects(storage, runtime.clock, runtime.cache.invalidate_node)
            driver = TransactionDriver(
                journal, client, runtime.clock, driver_settings(runtime), effects, lock.held
            )
            current = await storage.transactions.update(
                current, runtime.clock(), recovery_passes=current.recovery_passes + 1
            )
            result = await driver.drive(current, resume=True)
        if not current.state.terminal:  # its own process could not finish it: counted and alerted here
            count_batch(result)
            await alert_on_transaction(runtime.alerts, result)
        if result.state.terminal:
            report.finished[result.id] = result.state.value
        else:
            report.still_open[result.id] = result.state.value
