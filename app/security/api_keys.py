"""API keys: random tokens shown once, stored as SHA-256, with roles that grow viewer < operator < admin."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

PREFIX = "mcp_"


class Role(StrEnum):
    """What a key may do inside its tenant."""

    VIEWER = "viewer"  # read
    OPERATOR = "operator"  # read, sync, optimize, approve/reject, settings
    ADMIN = "admin"  # all of that, plus nodes and keys of the tenant

    def allows(self, needed: Role) -> bool:
        """Whether this role includes `needed`."""
        order = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)
        return order.index(self) >= order.index(needed)


class Principal(BaseModel):
    """Who is calling: a tenant key, or the platform's bootstrap admin (tenant None)."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    tenant_id: str | None
    role: Role

    @property
    def is_platform_admin(self) -> bool:
        """The bootstrap key: manages tenants and keys, owns no tenant's resources."""
        return self.tenant_id is None


def new_api_key() -> str:
    """A fresh key: 256 random bits, URL-safe, with a recognisable prefix (so leaked keys are easy to grep)."""
    return PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """SHA-256 hex of a key; a plain fast hash suffices because keys are 256-bit random, not passwords."""
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    """The first characters after the prefix, safe to show in listings."""
    return key[len(PREFIX) : len(PREFIX) + 8]


def same_key(given: str, expected: str) -> bool:
    """Constant-time comparison of two keys."""
    return hmac.compare_digest(given.encode(), expected.encode())
