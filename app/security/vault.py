"""The credential vault: AES-256-GCM records bound to (tenant, node, kind), a keyring for rotation, audited reads.

Each record is sealed with a fresh random 96-bit nonce under the keyring's active key. The associated data is the
canonical JSON of the record's tenant, node, kind, version and key id, so a ciphertext copied into another record,
or a record whose plain fields were edited, fails authentication. Plaintext never appears in a log line, a repr
or an exception; every decryption, successful or not, is recorded by the audit sink before anything is returned.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from cryptography.exceptions import InvalidTag
from pydantic import Field

from app.domain.base import DomainModel
from app.errors import DomainError
from app.security.audit import AuditEvent, AuditOutcome, AuditSink
from app.security.keys import MasterKey, load_master_key, read_key_file

if TYPE_CHECKING:
    from app.settings import Settings

NONCE_BYTES = 12  # 96 bits: the GCM nonce size that needs no extra hashing step
AAD_LABEL = "mcp-vault-v1"
# Identifiers take part in record ids ("tenant/node/kind"), so they must not contain "/".
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
KeyId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]


class VaultError(DomainError):
    """A secret could not be sealed or opened; names the record and key id, never the secret."""

    code = "vault_error"


class CredentialKind(StrEnum):
    """What a stored secret is; TLS certificates are public and are not stored in the vault."""

    LND_MACAROON = "lnd_macaroon"
    LNBITS_ADMIN_KEY = "lnbits_admin_key"
    TELEGRAM_TARGET = "telegram_target"  # a tenant's bot token and chat id (app/alerts/targets.py)


class CredentialContext(DomainModel):
    """Who a secret belongs to: the (tenant, node, kind) triple the ciphertext is bound to."""

    tenant_id: Identifier
    node_id: Identifier
    kind: CredentialKind

    @property
    def record_id(self) -> str:
        """Stable store key: `tenant/node/kind`."""
        return f"{self.tenant_id}/{self.node_id}/{self.kind.value}"

    def describe(self) -> str:
        """Human-readable label for messages."""
        return f"tenant={self.tenant_id} node={self.node_id} kind={self.kind.value}"


class EncryptedSecret(DomainModel):
    """A sealed secret as stored: plain identifying fields plus base64 nonce and ciphertext."""

    tenant_id: Identifier
    node_id: Identifier
    kind: CredentialKind
    key_id: KeyId
    version: int = Field(
        ge=1, description="record revision; bumped by every rewrite, used for compare-and-swap"
    )
    nonce: str = Field(repr=False, description="base64 of the 96-bit GCM nonce")
    ciphertext: str = Field(repr=False, description="base64 of ciphertext and 128-bit tag")
    created_at: datetime

    @property
    def context(self) -> CredentialContext:
        """The (tenant, node, kind) this record claims to belong to."""
        return CredentialContext(tenant_id=self.tenant_id, node_id=self.node_id, kind=self.kind)

    @property
    def record_id(self) -> str:
        """Store key of this record."""
        return self.context.record_id


class Keyring:
    """One active key for sealing plus older (or upcoming) keys kept only for opening, by key id."""

    def __init__(self, active: MasterKey, *others: MasterKey) -> None:
        keys = {key.key_id: key for key in others}
        keys[active.key_id] = active
        # Replaced whole on every change so a reader never sees a half-updated ring.
        self._state: tuple[str, dict[str, MasterKey]] = (active.key_id, keys)

    @property
    def active(self) -> MasterKey:
        """The key new ciphertexts are sealed with."""
        active_id, keys = self._state
        return keys[active_id]

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Ids of every loaded key, active first."""
        active_id, keys = self._state
        return (active_id, *sorted(key_id for key_id in keys if key_id != active_id))

    def get(self, key_id: str) -> MasterKey | None:
        """The loaded key with this id, if any."""
        return self._state[1].get(key_id)

    def add(self, key: MasterKey, *, activate: bool = False) -> None:
        """Load a key; with `activate`, new ciphertexts use it while the previous keys still open old ones."""
        active_id, keys = self._state
        self._state = (key.key_id if activate else active_id, {**keys, key.key_id: key})

    def retire(self, key_id: str) -> None:
        """Unload a key that no record uses any more; the active key cannot be retired."""
        active_id, keys = self._state
        if key_id == active_id:
            raise VaultError(f"key {key_id} is the active key and cannot be retired", {"key_id": key_id})
        if key_id not in keys:
            raise VaultError(f"key {key_id} is not loaded", {"key_id": key_id})
        self._state = (active_id, {kid: key for kid, key in keys.items() if kid != key_id})

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._state[1]

    def __repr__(self) -> str:
        return f"Keyring(active={self._state[0]!r}, keys={list(self.key_ids)!r})"


def load_keyring(settings: Settings) -> Keyring:
    """The configured master key as active, plus MCP_EXTRA_MASTER_KEY_FILE for decryption only when set."""
    active = load_master_key(settings)
    if settings.extra_master_key_file is None:
        return Keyring(active)
    return Keyring(active, read_key_file(settings.extra_master_key_file))


def associated_data(context: CredentialContext, version: int, key_id: str) -> bytes:
    """Canonical bytes every ciphertext is bound to: sorted-key compact JSON of its identifying fields."""
    document = {
        "label": AAD_LABEL,
        "tenant_id": context.tenant_id,
        "node_id": context.node_id,
        "kind": context.kind.value,
        "version": version,
        "key_id": key_id,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


class Vault:
    """Seals and opens credentials with a keyring; every opening attempt is audited."""

    def __init__(self, keyring: Keyring, audit: AuditSink) -> None:
        self.keyring = keyring
        self.audit = audit

    def encrypt(self, context: CredentialContext, plaintext: bytes, *, version: int = 1) -> EncryptedSecret:
        """Seal `plaintext` for `context` under the active key with a fresh random nonce."""
        if version < 1:
            raise VaultError(f"record version must be at least 1 ({context.describe()})")
        key = self.keyring.active
        nonce = os.urandom(NONCE_BYTES)
        sealed = key.encrypt(nonce, plaintext, associated_data(context, version, key.key_id))
        return EncryptedSecret(
            tenant_id=context.tenant_id,
            node_id=context.node_id,
            kind=context.kind,
            key_id=key.key_id,
            version=version,
            nonce=base64.b64encode(nonce).decode("ascii"),
            ciphertext=base64.b64encode(sealed).decode("ascii"),
            created_at=datetime.now(UTC),
        )

    async def decrypt(
        self, secret: EncryptedSecret, context: CredentialContext, *, actor: str, purpose: str
    ) -> bytes:
        """Open `secret`, which must belong to `context`; audited first, VaultError on any failure."""
        if not actor.strip() or not purpose.strip():
            raise VaultError("a decryption needs an actor and a purpose for the audit trail")
        outcome, plaintext = self._open(secret, context)
        await self.audit.record(
            AuditEvent(
                actor=actor,
                purpose=purpose,
                tenant_id=secret.tenant_id,
                node_id=secret.node_id,
                kind=secret.kind.value,
                key_id=secret.key_id,
                outcome=outcome,
            )
        )
        if plaintext is None:
            raise _failure(outcome, secret, context, self.keyring)
        return plaintext

    async def reencrypt(self, secret: EncryptedSecret, *, actor: str, purpose: str) -> EncryptedSecret:
        """The same secret sealed under the active key with version + 1 (for key rotation)."""
        plaintext = await self.decrypt(secret, secret.context, actor=actor, purpose=purpose)
        return self.encrypt(secret.context, plaintext, version=secret.version + 1)

    def _open(self, secret: EncryptedSecret, context: CredentialContext) -> tuple[AuditOutcome, bytes | None]:
        if secret.context != context:
            return AuditOutcome.CONTEXT_MISMATCH, None
        key = self.keyring.get(secret.key_id)
        if key is None:
            return AuditOutcome.KEY_NOT_LOADED, None
        try:
            nonce = base64.b64decode(secret.nonce, validate=True)
            sealed = base64.b64decode(secret.ciphertext, validate=True)
        except (binascii.Error, ValueError):
            return AuditOutcome.MALFORMED, None
        if len(nonce) != NONCE_BYTES:
            return AuditOutcome.MALFORMED, None
        try:
            plaintext = key.decrypt(nonce, sealed, associated_data(context, secret.version, secret.key_id))
        except InvalidTag:
            return AuditOutcome.AUTHENTICATION_FAILED, None
        return AuditOutcome.DECRYPTED, plaintext

    def __repr__(self) -> str:
        return f"Vault(keyring={self.keyring!r}, audit={self.audit!r})"


def _failure(
    outcome: AuditOutcome, secret: EncryptedSecret, context: CredentialContext, keyring: Keyring
) -> VaultError:
    """The error for a failed opening: record identity, key id and cause; no secret material."""
    record = secret.context.describe()
    details: dict[str, object] = {
        "tenant_id": secret.tenant_id,
        "node_id": secret.node_id,
        "kind": secret.kind.value,
        "key_id": secret.key_id,
        "outcome": outcome.value,
    }
    if outcome is AuditOutcome.CONTEXT_MISMATCH:
        message = f"record ({record}) was requested as ({context.describe()}): refusing to open it"
    elif outcome is AuditOutcome.KEY_NOT_LOADED:
        details["loaded_key_ids"] = list(keyring.key_ids)
        message = (
            f"record ({record}) is sealed under key {secret.key_id}, which is not loaded "
            f"(loaded: {', '.join(keyring.key_ids)}); configure that master key"
        )
    elif outcome is AuditOutcome.MALFORMED:
        message = f"record ({record}) under key {secret.key_id} has a malformed nonce or ciphertext"
    else:
        message = (
            f"record ({record}) under key {secret.key_id} failed authentication: "
            "the record was altered, copied from another record, or sealed with a different key"
        )
    return VaultError(message, details)
