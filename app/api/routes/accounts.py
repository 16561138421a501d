"""Tenants and API keys."""

from __future__ import annotations

from fastapi import APIRouter, Path, status

from app.api.deps import Accounts, CurrentPrincipal, Cursor, Limit, Runtime
from app.api.links import links
from app.api.schemas import IssuedKeyOut, KeyIn, KeyOut, PageOut, TenantDeletedOut, TenantIn, TenantOut
from app.services.tenant_removal import delete_tenant

router = APIRouter(prefix="/api/v1/tenants", tags=["accounts"])
TenantId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


TENANT_LINKS = links(
    201, "the new tenant's id",
    *((op, {"tenant_id": "$response.body#/id"}) for op in (
        "list_keys_api_v1_tenants__tenant_id__keys_get", "issue_key_api_v1_tenants__tenant_id__keys_post",
        "remove_tenant_api_v1_tenants__tenant_id__delete",
    )),
)  # fmt: skip
KEY_LINKS = links(
    201, "the new key's id and tenant",
    ("revoke_key_api_v1_tenants__tenant_id__keys__key_id__delete",
     {"tenant_id": "$response.body#/tenant_id", "key_id": "$response.body#/id"}),
)  # fmt: skip


@router.post("", status_code=status.HTTP_201_CREATED, responses=TENANT_LINKS)
async def create_tenant(body: TenantIn, principal: CurrentPrincipal, accounts: Accounts) -> TenantOut:
    """Create a tenant (platform admin key)."""
    return TenantOut.of(await accounts.create_tenant(principal, body.name))


@router.get("")
async def list_tenants(
    principal: CurrentPrincipal, accounts: Accounts, limit: Limit = 50, cursor: Cursor = None
) -> PageOut[TenantOut]:
    """Every tenant (platform admin key)."""
    page = await accounts.list_tenants(principal, limit, cursor)
    return PageOut(items=[TenantOut.of(t) for t in page.items], next_cursor=page.next_cursor)


@router.delete("/{tenant_id}")
async def remove_tenant(
    principal: CurrentPrincipal, runtime: Runtime, tenant_id: str = TenantId
) -> TenantDeletedOut:
    """Delete a tenant (platform admin key): keys revoked, nodes and their credentials removed; history kept."""
    return TenantDeletedOut(**await delete_tenant(runtime, principal, tenant_id))


@router.post("/{tenant_id}/keys", status_code=status.HTTP_201_CREATED, responses=KEY_LINKS)
async def issue_key(
    body: KeyIn, principal: CurrentPrincipal, accounts: Accounts, tenant_id: str = TenantId
) -> IssuedKeyOut:
    """Issue a key for the tenant; the secret is in this response only."""
    record, secret = await accounts.issue_key(principal, tenant_id, body.role, body.name)
    return IssuedKeyOut(**KeyOut.of(record).model_dump(), key=secret)


@router.get("/{tenant_id}/keys")
async def list_keys(
    principal: CurrentPrincipal, accounts: Accounts, tenant_id: str = TenantId, limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[KeyOut]:  # fmt: skip
    """The tenant's keys (prefix only, never the secret)."""
    page = await accounts.list_keys(principal, tenant_id, limit, cursor)
    return PageOut(items=[KeyOut.of(k) for k in page.items], next_cursor=page.next_cursor)


@router.delete("/{tenant_id}/keys/{key_id}")
async def revoke_key(
    principal: CurrentPrincipal,
    accounts: Accounts,
    tenant_id: str = TenantId,
    key_id: str = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"),
) -> KeyOut:
    """Revoke a key; it stops working immediately."""
    return KeyOut.of(await accounts.revoke_key(principal, tenant_id, key_id))
