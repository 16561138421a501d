"""Transactions with their per-channel outcomes and rollback, backups with restore: each change confirmed first."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from app.dashboard.auth import Visitor, checked_form, visitor
from app.dashboard.pages import NOTICES, checked_id, html_errors, page, reads_for, redirect
from app.dashboard.reads import DashboardReads
from app.domain.access import ApiKeyRole
from app.domain.execution import ChannelOutcome
from app.errors import InvalidInputError, NotFoundError
from app.services.rollbacks import RollbackService
from app.storage.execution_records import JournalEntry, TransactionRecord
from app.storage.records import NodeRecord

LISTED = 100
BACKUPS_LISTED = 25  # each holds every channel's policy: a page of them is heavy on a large node
MAX_REASON_CHARS = 300
router = APIRouter()


@dataclass(frozen=True)
class TransactionView:
    """A transaction of the visitor's node with its journal."""

    seen: Visitor
    reads: DashboardReads
    node: NodeRecord
    record: TransactionRecord
    entries: list[JournalEntry]

    @property
    def applied(self) -> list[JournalEntry]:
        """Channels proven applied: what a rollback would put back."""
        return [entry for entry in self.entries if entry.outcome is ChannelOutcome.APPLIED]


async def _transaction(request: Request, node_id: str, transaction_id: str) -> TransactionView:
    seen = await visitor(request)
    reads = reads_for(request, seen)
    node = await reads.node(checked_id(node_id, "node id"))
    wanted = checked_id(transaction_id, "transaction id")
    record, entries = await reads.ledger.transaction(reads.tenant_id, wanted)
    if record.node_id != node.id:
        raise NotFoundError(f"transaction {wanted} not found")
    return TransactionView(seen, reads, node, record, entries)


def _reason(form: FormData, default: str) -> str:
    """The operator's reason, if one was typed (bounded), else `default`."""
    reason = form.get("reason")
    text = reason.strip() if isinstance(reason, str) else ""
    if len(text) > MAX_REASON_CHARS:
        raise InvalidInputError(f"the reason is longer than {MAX_REASON_CHARS} characters")
    return text or default


def _confirmed(form: FormData) -> None:
    """The confirmation box of the form was ticked."""
    if form.get("confirm") != "yes":
        raise InvalidInputError("tick the confirmation box to go ahead")


@router.get("/nodes/{node_id}/transactions")
@html_errors
async def transactions(request: Request, node_id: str) -> Response:
    """The node's batches of policy writes, newest first."""
    seen = await visitor(request)
    reads = reads_for(request, seen)
    node = await reads.node(checked_id(node_id, "node id"))
    listed = await reads.ledger.transactions(node, None, None, LISTED, None)
    return page("transactions.html", request, seen, node=node, transactions=listed.items)


@router.get("/nodes/{node_id}/transactions/{transaction_id}")
@html_errors
async def transaction(
    request: Request, node_id: str, transaction_id: str, notice: str | None = None
) -> Response:
    """One transaction: each channel's backup, target, outcome and read-back."""
    view = await _transaction(request, node_id, transaction_id)
    return page(
        "transaction.html", request, view.seen, view=view, node=view.node, notice=NOTICES.get(notice or ""),
        confirming=False,
    )  # fmt: skip


@router.get("/nodes/{node_id}/transactions/{transaction_id}/rollback")
@html_errors
async def confirm_rollback(request: Request, node_id: str, transaction_id: str) -> Response:
    """The confirmation step: exactly which channels go back to which policy (operator role)."""
    view = await _transaction(request, node_id, transaction_id)
    view.seen.principal.require(ApiKeyRole.OPERATOR)
    return page(
        "transaction.html", request, view.seen, view=view, node=view.node, notice=None, confirming=True
    )


@router.post("/nodes/{node_id}/transactions/{transaction_id}/rollback")
@html_errors
async def rollback(request: Request, node_id: str, transaction_id: str) -> Response:
    """Roll back every applied channel of the transaction, once confirmed (operator role, CSRF-checked)."""
    view = await _transaction(request, node_id, transaction_id)
    form = await checked_form(request, view.seen.session.csrf)
    principal = view.seen.principal
    principal.require(ApiKeyRole.OPERATOR)
    _confirmed(form)
    reason = _reason(form, f"rollback from the dashboard by {principal.key_id}")
    result = await RollbackService(view.reads.runtime).rollback_transaction(
        view.node, view.record.id, principal.key_id, reason
    )
    return redirect(f"/nodes/{view.node.id}/transactions/{result['transaction_id']}?notice=rolled_back")


@router.get("/nodes/{node_id}/backups")
@html_errors
async def backups(request: Request, node_id: str, notice: str | None = None) -> Response:
    """The node's backups still in MongoDB, newest first."""
    seen = await visitor(request)
    reads = reads_for(request, seen)
    node = await reads.node(checked_id(node_id, "node id"))
    listed = await reads.ledger.backups(node, None, BACKUPS_LISTED, None)
    return page(
        "backups.html", request, seen, node=node, backups=listed.items, notice=NOTICES.get(notice or ""),
        confirming=None,
    )  # fmt: skip


@router.post("/nodes/{node_id}/backups")
@html_errors
async def take_backup(request: Request, node_id: str) -> Response:
    """Back up every channel's policy now (operator role, CSRF-checked)."""
    seen = await visitor(request)
    await checked_form(request, seen.session.csrf)
    seen.principal.require(ApiKeyRole.OPERATOR)
    reads = reads_for(request, seen)
    node = await reads.node(checked_id(node_id, "node id"))
    await reads.ledger.take_backup(node, seen.principal.key_id)
    return redirect(f"/nodes/{node.id}/backups?notice=backed_up")


@router.get("/nodes/{node_id}/backups/{backup_id}/restore")
@html_errors
async def confirm_restore(request: Request, node_id: str, backup_id: str) -> Response:
    """The confirmation step of a restore: the backup and how many channels it holds (operator role)."""
    seen = await visitor(request)
    seen.principal.require(ApiKeyRole.OPERATOR)
    reads = reads_for(request, seen)
    node = await reads.node(checked_id(node_id, "node id"))
    backup = await reads.ledger.backup(reads.tenant_id, checked_id(backup_id, "backup id"))
    if backup.node_id != node.id:
        raise NotFoundError(f"backup {backup.id} not found")
    return page("backups.html", request, seen, node=node, backups=[], notice=None, confirming=backup)


@router.post("/nodes/{node_id}/backups/{backup_id}/restore")
@html_errors
async def restore(request: Request, node_id: str, backup_id: str) -> Response:
    """Write the backup back to every channel that differs now, once confirmed (operator role)."""
    seen = await visitor(request)
    form = await checked_form(request, seen.session.csrf)
    seen.principal.require(ApiKeyRole.OPERATOR)
    _confirmed(form)
    reads = reads_for(request, seen)
    node = await reads.node(checked_id(node_id, "node id"))
    reason = _reason(form, f"restore from the dashboard by {seen.principal.key_id}")
    result = await RollbackService(reads.runtime).restore_backup(
        node, checked_id(backup_id, "backup id"), seen.principal.key_id, reason
    )
    if result["transaction_id"] is None:
        return redirect(f"/nodes/{node.id}/backups?notice=restored")
    return redirect(f"/nodes/{node.id}/transactions/{result['transaction_id']}?notice=restored")
