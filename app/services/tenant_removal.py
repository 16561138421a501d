"""Deleting a tenant: what goes at once and what stays as history (README "Deleting a tenant")."""

from __future__ import annotations

import logging

from app.alerts.targets import target_context
from app.errors import PermissionDeniedError
from app.services.accounts import Principal
from app.services.nodes import NodeService
from app.services.runtime import ServiceRuntime
from app.storage.records import AuditRecord

log = logging.getLogger(__name__)
PAGE = 200


async def delete_tenant(runtime: ServiceRuntime, principal: Principal, tenant_id: str) -> dict[str, int]:
    """Revoke every key, remove every node with its vault credential, then the tenant itself.

    In that order, so a failure half-way leaves a tenant nobody can call into rather than keys that
    still work on nodes that are gone; running it again finishes the job. The decisions, transactions,
    backups, metrics and audit trail stay as history (reachable by no key) until their retention ends.
    """
    principal.require_tenant_admin(tenant_id)  # another tenant's key sees 404, as on every tenant route
    if not principal.is_platform_admin:
        raise PermissionDeniedError("only the platform admin key deletes tenants")
    storage = runtime.storage
    tenant = await storage.tenants.get(tenant_id)
    revoked = 0
    cursor: str | None = None
    while True:
        page = await storage.api_keys.list(tenant_id, limit=PAGE, cursor=cursor)
        for key in page.items:
            if key.revoked_at is None:
                await storage.api_keys.revoke(tenant_id, key.id)
                revoked += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    await runtime.cache.invalidate_tenant(
        tenant_id
    )  # remembered keys and records go now, here and on replicas
    nodes = NodeService(runtime)
    removed = 0
    while (page_of_nodes := await storage.nodes.list(tenant_id, limit=PAGE)).items:
        for node in page_of_nodes.items:
            await nodes.delete(node)
            removed += 1
    await storage.secrets.delete(target_context(tenant_id))  # its Telegram chat and bot token
    await storage.tenants.delete(tenant_id)
    await runtime.cache.invalidate_tenant(tenant_id)
    await storage.audit.add(
        AuditRecord(
            tenant_id=tenant_id, actor=principal.key_id, action="tenant.delete", outcome="deleted",
            target=f"tenant {tenant.name}", details={"keys_revoked": revoked, "nodes_removed": removed},
        )
    )  # fmt: skip
    log.info("deleted tenant %s: %d keys revoked, %d nodes removed", tenant_id, revoked, removed)
    return {"keys_revoked": revoked, "nodes_removed": removed}
