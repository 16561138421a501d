"""Tenants, API keys and who is calling: roles grow viewer < operator < admin inside one tenant."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from app.cache.facade import Cache
from app.domain.access import ApiKeyRole
from app.errors import AuthenticationError, NotFoundError, PermissionDeniedError, StorageUnavailableError
from app.storage.api_keys import hash_api_key
from app.storage.database import Storage
from app.storage.paging import Page
from app.storage.records import ApiKeyRecord, TenantRecord

log = logging.getLogger(__name__)
ROLE_ORDER = (ApiKeyRole.VIEWER, ApiKeyRole.OPERATOR, ApiKeyRole.ADMIN)
# Verified keys are remembered in the cache's in-process records (app/cache/records.py) and read again
# from storage after this long; a revocation drops them at once here and on other replicas within the
# generation check (app/cache/generations.py). While storage is down a remembered key still reads (READ_ONLY).
PRINCIPAL_TTL_S = 60.0
PLATFORM_ADMIN_ID = "platform-admin"


@dataclass(frozen=True)
class Principal:
    """The caller: a tenant's key, or the platform's bootstrap admin (no tenant)."""

    key_id: str
    tenant_id: str | None
    role: ApiKeyRole

    @property
    def is_platform_admin(self) -> bool:
        """The bootstrap key manages tenants and keys and owns no tenant's nodes."""
        return self.tenant_id is None

    def require(self, needed: ApiKeyRole) -> str:
        """The caller's tenant id when its role includes `needed`; 403 otherwise."""
        if self.tenant_id is None:
            raise PermissionDeniedError(
                "the platform admin key manages tenants and keys; use a key of the tenant for its nodes"
            )
        if ROLE_ORDER.index(self.role) < ROLE_ORDER.index(needed):
            raise PermissionDeniedError(
                f"this operation needs the {needed.value} role; the key has {self.role.value}",
                {"needed": needed.value, "role": self.role.value},
            )
        return self.tenant_id

    def require_tenant_admin(self, tenant_id: str) -> None:
        """Platform admin, or an admin key of exactly this tenant (others see 404, not 403)."""
        if self.is_platform_admin:
            return
        if self.tenant_id != tenant_id:
            raise NotFoundError(f"tenant {tenant_id} not found")
        self.require(ApiKeyRole.ADMIN)


class AccountService:
    """Authenticate keys; create tenants and issue, list and revoke their keys."""

    def __init__(self, storage: Storage, admin_key: str | None, cache: Cache | None = None) -> None:
        self.storage = storage
        self._admin_key = admin_key
        # Without the service's cache (a bare test), a private in-process one remembers keys.
        self._cache = cache if cache is not None else Cache()

    async def authenticate(self, presented: str) -> Principal:
        """The principal for a bearer key; 401 for a missing, unknown or revoked key."""
        if not presented:
            raise AuthenticationError("missing API key: send Authorization: Bearer <key>")
        if self._admin_key and hmac.compare_digest(presented.encode(), self._admin_key.encode()):
            return Principal(key_id=PLATFORM_ADMIN_ID, tenant_id=None, role=ApiKeyRole.ADMIN)
        key_hash = hash_api_key(presented)
        memo_key = ("api-key", key_hash)
        remembered: Principal | None = await self._cache.recall(memo_key)
        if remembered is not None:
            return remembered
        epoch = await self._cache.fill_epoch()  # the tenant is known only once the key is read
        try:
            record = await self.storage.api_keys.find_active_by_hash(key_hash)
        except StorageUnavailableError:
            fallback: Principal | None = await self._cache.recall(memo_key, expired_ok=True)
            if fallback is not None:  # storage is down: a key verified before (and not revoked) still reads
                return fallback
            raise
        if record is None:
            raise AuthenticationError("unknown or revoked API key")
        principal = Principal(key_id=record.id, tenant_id=record.tenant_id, role=record.role)
        await self._cache.remember(
            memo_key,
            principal,
            tenant_id=record.tenant_id,
            node_id=None,
            max_age_s=PRINCIPAL_TTL_S,
            epoch=epoch,
        )
        return principal

    async def create_tenant(self, principal: Principal, name: str) -> TenantRecord:
        """A new tenant (platform admin only)."""
        if not principal.is_platform_admin:
            raise PermissionDeniedError("only the platform admin key creates tenants")
        return await self.storage.tenants.add(TenantRecord(name=name))

    async def list_tenants(self, principal: Principal, limit: int, cursor: str | None) -> Page[TenantRecord]:
        """Every tenant (platform admin only)."""
        if not principal.is_platform_admin:
            raise PermissionDeniedError("only the platform admin key lists tenants")
        return await self.storage.tenants.list(limit=limit, cursor=cursor)

    async def issue_key(
        self, principal: Principal, tenant_id: str, role: ApiKeyRole, name: str
    ) -> tuple[ApiKeyRecord, str]:
        """A new key of the tenant; the secret is returned once and never stored."""
        principal.require_tenant_admin(tenant_id)
        await self.storage.tenants.get(tenant_id)
        record, secret = await self.storage.api_keys.issue(tenant_id, role, name)
        log.info("issued %s key %s for tenant %s", role.value, record.id, tenant_id)
        return record, secret

    async def list_keys(
        self, principal: Principal, tenant_id: str, limit: int, cursor: str | None
    ) -> Page[ApiKeyRecord]:
        """The tenant's keys (hashes never leave storage); 404 for a tenant that does not exist (or no longer)."""
        principal.require_tenant_admin(tenant_id)
        await self.storage.tenants.get(tenant_id)
        return await self.storage.api_keys.list(tenant_id, limit=limit, cursor=cursor)

    async def revoke_key(self, principal: Principal, tenant_id: str, key_id: str) -> ApiKeyRecord:
        """Revoke a key at once; later requests with it get 401."""
        principal.require_tenant_admin(tenant_id)
        record = await self.storage.api_keys.revoke(tenant_id, key_id)
        # Remembered keys are tenant-wide records: dropped here at once, on other replicas within the check.
        await self._cache.invalidate_node(tenant_id, None)
        return record
