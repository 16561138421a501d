"""Reads of what execution left behind: transactions with their journal, backups and the audit trail."""

from __future__ import annotations

from app.domain.execution import TransactionKind, TransactionState
from app.errors import InvalidInputError
from app.services.maintenance import BackupMaintenance
from app.services.runtime import ServiceRuntime
from app.storage.execution_records import BackupKind, BackupRecord, JournalEntry, TransactionRecord
from app.storage.paging import Page
from app.storage.records import AuditRecord, NodeRecord


class LedgerService:
    """Tenant-scoped reads of transactions, backups and audit records."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def transactions(
        self,
        node: NodeRecord,
        state: TransactionState | None,
        kind: TransactionKind | None,
        limit: int,
        cursor: str | None,
    ) -> Page[TransactionRecord]:
        """The node's transactions, newest first."""
        return await self.runtime.storage.transactions.list(
            node.tenant_id, node.id, state=state, kind=kind, limit=limit, cursor=cursor
        )

    async def transaction(
        self, tenant_id: str, transaction_id: str
    ) -> tuple[TransactionRecord, list[JournalEntry]]:
        """One transaction of the tenant and its per-channel journal."""
        storage = self.runtime.storage
        transaction = await storage.transactions.get(tenant_id, transaction_id)
        return transaction, await storage.journal.for_transaction(tenant_id, transaction_id)

    async def backups(
        self, node: NodeRecord, kind: BackupKind | None, limit: int, cursor: str | None
    ) -> Page[BackupRecord]:
        """The node's backups still in MongoDB, newest first."""
        return await self.runtime.storage.backups.list(
            node.tenant_id, node.id, kind=kind, limit=limit, cursor=cursor
        )

    async def backup(self, tenant_id: str, backup_id: str) -> BackupRecord:
        """One backup of the tenant with every policy in it."""
        return await self.runtime.storage.backups.get(tenant_id, backup_id)

    async def take_backup(self, node: NodeRecord, actor: str) -> BackupRecord:
        """A full backup of the node now (every channel of the last sync, read fresh)."""
        taken = await BackupMaintenance(self.runtime).full_backup(node, BackupKind.MANUAL, actor)
        if taken is None:
            raise InvalidInputError(f"node {node.id} has never been synced; run a sync first")
        return taken

    async def audit(
        self, node: NodeRecord, action: str | None, limit: int, cursor: str | None
    ) -> Page[AuditRecord]:
        """The node's audit trail, newest first."""
        return await self.runtime.storage.audit.list(
            node.tenant_id, node_id=node.id, action=action, limit=limit, cursor=cursor
        )
