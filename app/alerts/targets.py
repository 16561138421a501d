"""Where a tenant's alerts go: its bot token, chat id and quiet hours, sealed in the vault as one record.

The record is (tenant, "alerts", telegram_target); node ids are 32 hex characters, so "alerts" is never
a node's. Both the token and the chat id stay inside the vault: callers see whether a target is set and
its quiet hours, and a hash naming the chat for the per-chat rate limit.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import SecretStr

from app.alerts.quiet import QuietHours
from app.domain.base import DomainModel
from app.errors import ConflictError
from app.security.vault import CredentialContext, CredentialKind, Vault
from app.storage.credentials import SecretRepository

TARGET_NODE_ID = "alerts"
ALERTS_ACTOR = "alerts"


class TelegramTarget(DomainModel):
    """A tenant's Telegram chat: the secrets to reach it and when not to wake anyone."""

    bot_token: SecretStr
    chat_id: str
    quiet_hours: QuietHours | None = None

    @property
    def chat_hash(self) -> str:
        """A stable name for the chat that reveals neither the chat id nor the token."""
        material = f"{self.bot_token.get_secret_value()}|{self.chat_id}".encode()
        return hashlib.sha256(material).hexdigest()[:24]

    def sealed_payload(self) -> bytes:
        """The plaintext the vault seals."""
        quiet = self.quiet_hours.model_dump(mode="json") if self.quiet_hours else None
        document = {
            "bot_token": self.bot_token.get_secret_value(),
            "chat_id": self.chat_id,
            "quiet_hours": quiet,
        }
        return json.dumps(document).encode()

    @classmethod
    def from_payload(cls, payload: bytes) -> TelegramTarget:
        """The target from the vault's plaintext."""
        return cls.model_validate(json.loads(payload))


def target_context(tenant_id: str) -> CredentialContext:
    """The vault context of a tenant's Telegram target."""
    return CredentialContext(tenant_id=tenant_id, node_id=TARGET_NODE_ID, kind=CredentialKind.TELEGRAM_TARGET)


class TargetBook:
    """Reads and writes tenants' Telegram targets in the vault."""

    def __init__(self, secrets: SecretRepository, vault: Vault) -> None:
        self.secrets = secrets
        self.vault = vault

    async def get(self, tenant_id: str, purpose: str = "deliver alerts") -> TelegramTarget | None:
        """The tenant's target, or None when none is set (opening it is audited)."""
        context = target_context(tenant_id)
        sealed = await self.secrets.get(context.record_id)
        if sealed is None:
            return None
        plaintext = await self.vault.decrypt(sealed, context, actor=ALERTS_ACTOR, purpose=purpose)
        return TelegramTarget.from_payload(plaintext)

    async def exists(self, tenant_id: str) -> bool:
        """Whether the tenant has a target (without opening it)."""
        return await self.secrets.get(target_context(tenant_id).record_id) is not None

    async def put(self, tenant_id: str, target: TelegramTarget) -> None:
        """Seal and store the target, replacing (and so destroying) any previous one."""
        context = target_context(tenant_id)
        for _ in range(3):  # a racing replacement bumps the version: read again
            current = await self.secrets.get(context.record_id)
            if current is None:
                await self.secrets.add(self.vault.encrypt(context, target.sealed_payload()))
                return
            sealed = self.vault.encrypt(context, target.sealed_payload(), version=current.version + 1)
            if await self.secrets.compare_and_swap(context.record_id, current.version, sealed):
                return
        raise ConflictError("the alert target changed meanwhile; send it again")

    async def delete(self, tenant_id: str) -> bool:
        """Remove the tenant's target; False when there was none."""
        return await self.secrets.delete(target_context(tenant_id))
