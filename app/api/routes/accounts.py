"""Tenants and API keys."""

from __future__ import annotations

from fastapi import APIRouter, Path, status

from app.api.deps import Accounts, CurrentPrincipal, Cursor, Limit
from app.api.schemas import IssuedKeyOut, KeyIn, KeyOut, PageOut, TenantIn, TenantOut

router = APIRouter(prefix="/api/v1/tenants", tags=["accounts"])
TenantId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


@router.post("", status_code=status.HTTP_201_CREATED)
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


@router.post("/{tenant_id}/keys", status_code=status.HTTP_201_CREATED)
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
