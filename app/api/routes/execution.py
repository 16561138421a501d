"""Transactions, backups, rollbacks, the rollout stage and the audit trail of a node."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status

from app.api.deps import CurrentPrincipal, Cursor, Limit, OperatedNode, Runtime, ViewedNode
from app.api.execution_schemas import (
    BackupOut,
    NodeRollbackIn,
    RolloutIn,
    TransactionDetailOut,
    TransactionOut,
    TransactionRollbackIn,
)
from app.api.schemas import PageOut
from app.domain.access import ApiKeyRole
from app.domain.execution import TransactionKind, TransactionState
from app.services.ledger import LedgerService
from app.services.rollbacks import RollbackService
from app.services.rollout import RolloutService, RolloutStatus
from app.services.runtime import ServiceRuntime
from app.storage.execution_records import BackupKind, BackupRecord
from app.storage.records import AuditRecord, NodeRecord

router = APIRouter(prefix="/api/v1", tags=["execution"])
RecordIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Action = Annotated[str | None, Query(min_length=1, max_length=100, pattern=r"^[a-z_.]+$")]


def get_ledger(runtime: Runtime) -> LedgerService:
    """Reads of transactions, backups and audit records."""
    return LedgerService(runtime)


def get_rollbacks(runtime: Runtime) -> RollbackService:
    """Rollbacks and restores."""
    return RollbackService(runtime)


def get_rollouts(runtime: Runtime) -> RolloutService:
    """Rollout stages and their gates."""
    return RolloutService(runtime.storage, runtime.settings, runtime.alerts, runtime.clock)


Ledger = Annotated[LedgerService, Depends(get_ledger)]
Rollbacks = Annotated[RollbackService, Depends(get_rollbacks)]
Rollouts = Annotated[RolloutService, Depends(get_rollouts)]


@router.get("/nodes/{node_id}/transactions")
async def list_transactions(
    node: ViewedNode,
    ledger: Ledger,
    state: TransactionState | None = None,
    kind: TransactionKind | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[TransactionOut]:
    """The node's batches of policy writes, newest first."""
    page = await ledger.transactions(node, state, kind, limit, cursor)
    return PageOut(items=[TransactionOut.of(t) for t in page.items], next_cursor=page.next_cursor)


@router.get("/transactions/{transaction_id}")
async def get_transaction(
    principal: CurrentPrincipal, ledger: Ledger, transaction_id: RecordIdPath
) -> TransactionDetailOut:
    """One transaction with each channel's backup, target, outcome and read-back."""
    tenant_id = principal.require(ApiKeyRole.VIEWER)
    record, entries = await ledger.transaction(tenant_id, transaction_id)
    return TransactionDetailOut.with_entries(record, entries)


@router.post("/transactions/{transaction_id}/rollback")
async def rollback_transaction(
    principal: CurrentPrincipal,
    runtime: Runtime,
    rollbacks: Rollbacks,
    transaction_id: RecordIdPath,
    body: TransactionRollbackIn | None = None,
) -> dict[str, Any]:
    """Restore the backup of every applied channel of a transaction (or of the named channels)."""
    tenant_id = principal.require(ApiKeyRole.OPERATOR)
    request = body or TransactionRollbackIn()
    node = await _node_of_transaction(runtime, tenant_id, transaction_id)
    reason = request.reason or f"rollback requested by {principal.key_id}"
    return await rollbacks.rollback_transaction(
        node, transaction_id, principal.key_id, reason, request.chan_ids
    )


@router.post("/nodes/{node_id}/rollback")
async def rollback_node(
    node: OperatedNode, principal: CurrentPrincipal, rollbacks: Rollbacks, body: NodeRollbackIn
) -> dict[str, Any]:
    """Put the node back to a backup (`backup_id`), or undo every change the service made after `to`."""
    if body.backup_id is not None:
        return await rollbacks.restore_backup(node, body.backup_id, principal.key_id, body.reason)
    assert body.to is not None  # the body's validator demands one of the two
    return await rollbacks.restore_to(node, body.to, principal.key_id, body.reason)


@router.get("/nodes/{node_id}/backups")
async def list_backups(
    node: ViewedNode, ledger: Ledger, kind: BackupKind | None = None, limit: Limit = 50, cursor: Cursor = None
) -> PageOut[BackupOut]:
    """The node's backups still in MongoDB (older ones live on as cold files), newest first."""
    page = await ledger.backups(node, kind, limit, cursor)
    return PageOut(items=[BackupOut.of(b) for b in page.items], next_cursor=page.next_cursor)


@router.post("/nodes/{node_id}/backups", status_code=status.HTTP_201_CREATED)
async def take_backup(node: OperatedNode, principal: CurrentPrincipal, ledger: Ledger) -> BackupOut:
    """Back up every channel's policy now, read fresh from the node."""
    return BackupOut.of(await ledger.take_backup(node, principal.key_id))


@router.get("/backups/{backup_id}")
async def get_backup(principal: CurrentPrincipal, ledger: Ledger, backup_id: RecordIdPath) -> BackupRecord:
    """One backup with every channel's policy and its checksum."""
    return await ledger.backup(principal.require(ApiKeyRole.VIEWER), backup_id)


@router.get("/nodes/{node_id}/rollout")
async def get_rollout(
    node: ViewedNode, principal: CurrentPrincipal, runtime: Runtime, rollouts: Rollouts
) -> RolloutStatus:
    """The node's rollout stage, the modes it allows and the gate to the next stage."""
    # The client: a canary gate compares flow from the node's forwarding history.
    return await rollouts.status(node, await runtime.clients.get(node, principal.key_id))


@router.post("/nodes/{node_id}/rollout")
async def change_rollout(
    node: OperatedNode, principal: CurrentPrincipal, runtime: Runtime, rollouts: Rollouts, body: RolloutIn
) -> RolloutStatus:
    """Promote the node one stage (its gate must pass) or demote it one stage."""
    client = await runtime.clients.get(node, principal.key_id)
    if body.action == "promote":
        return await rollouts.promote(node, principal.key_id, body.reason, client)
    await rollouts.demote(node, principal.key_id, body.reason or f"demoted by {principal.key_id}")
    return await rollouts.status(node, client)


@router.get("/nodes/{node_id}/audit")
async def node_audit(
    node: ViewedNode, ledger: Ledger, action: Action = None, limit: Limit = 50, cursor: Cursor = None
) -> PageOut[AuditRecord]:
    """Every write, read-back, rollback, approval, stage change and credential use on the node, newest first."""
    page = await ledger.audit(node, action, limit, cursor)
    return PageOut(items=page.items, next_cursor=page.next_cursor)


async def _node_of_transaction(runtime: ServiceRuntime, tenant_id: str, transaction_id: str) -> NodeRecord:
    transaction = await runtime.storage.transactions.get(tenant_id, transaction_id)
    return await runtime.storage.nodes.get(tenant_id, transaction.node_id)
