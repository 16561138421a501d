"""Alerts raised from what the services observe: a failed or partial batch, a node that stopped answering."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.alerts.model import Alert, AlertKind, AlertSink
from app.domain.execution import ChannelOutcome, TransactionKind, TransactionState
from app.storage.execution_records import TransactionRecord
from app.storage.metrics import MetricRepository
from app.storage.records import NodeRecord

ONE_MS = timedelta(milliseconds=1)
# Channel outcomes of a committed batch that mean a write did not do what it should have.
FAILED_OUTCOMES = (ChannelOutcome.NOT_APPLIED.value, ChannelOutcome.FAILED.value)


async def alert_on_transaction(alerts: AlertSink, transaction: TransactionRecord | None) -> None:
    """Alert on a batch that ended partial (channels left unknown) or that failed and was compensated."""
    if transaction is None:
        return
    if transaction.state is TransactionState.PARTIAL:
        kind = AlertKind.TRANSACTION_PARTIAL
        what = "ended partial: some channels could not be restored; each channel's outcome says where it is"
    elif transaction.state is TransactionState.ROLLED_BACK and transaction.kind is TransactionKind.APPLY:
        kind = AlertKind.TRANSACTION_FAILED
        what = "failed and was rolled back to its backup"
    elif transaction.state is TransactionState.COMMITTED and any(
        transaction.counts.get(o) for o in FAILED_OUTCOMES
    ):
        kind = AlertKind.TRANSACTION_FAILED
        what = "committed, but some writes did not take"
    else:
        return
    counts = ", ".join(f"{outcome} {n}" for outcome, n in sorted(transaction.counts.items())) or "no channels"
    notes = f" ({'; '.join(transaction.notes)[:300]})" if transaction.notes else ""
    message = f"transaction {transaction.id} ({transaction.kind.value}) {what}: {counts}{notes}"
    await alerts.send(
        Alert(
            kind=kind,
            tenant_id=transaction.tenant_id,
            node_id=transaction.node_id,
            message=message,
            dedup_key=f"{kind}:{transaction.id}",
        )
    )


async def alert_if_unreachable(
    metrics: MetricRepository,
    probe_metric: str,
    alerts: AlertSink,
    node: NodeRecord,
    now: datetime,
    after_s: float,
) -> bool:
    """Alert when every probe of the node has failed for at least `after_s` seconds; True when it did.

    The outage starts at the first failed probe after the last answered one. Repeats within the
    de-duplication window fold into the first alert.
    """
    threshold = timedelta(seconds=after_s)
    points = await metrics.series(
        node.tenant_id, node.id, probe_metric, since=now - 2 * threshold, until=now + ONE_MS, limit=10_000
    )
    started: datetime | None = None
    for point in points:
        if point.labels.get("ok") == "1":
            started = None
        elif started is None:
            started = point.timestamp
    if started is None or now - started < threshold:
        return False
    minutes = (now - started).total_seconds() / 60
    await alerts.send(
        Alert(
            kind=AlertKind.NODE_UNREACHABLE,
            tenant_id=node.tenant_id,
            node_id=node.id,
            message=f"node {node.name} has not answered any probe for {minutes:.0f} minutes "
            f"(since {started:%Y-%m-%d %H:%M} UTC)",
        )
    )
    return True
