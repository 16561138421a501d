"""Register, read and remove a tenant's nodes; credentials go straight into the vault and never come back."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from app.cache.keys import cache_key
from app.cache.ttl import TtlClass
from app.domain.execution import RolloutStage
from app.errors import InvalidInputError, NotFoundError, StorageUnavailableError
from app.security.macaroons import macaroon_bytes, parse_macaroon
from app.services.clients import credential_context
from app.services.node_settings import NodeSettings, parse_node_settings
from app.services.rollout import RolloutService, require_mode
from app.services.runtime import ServiceRuntime
from app.storage.paging import Page
from app.storage.records import AuditRecord, NodeBackend, NodeRecord, NodeUpdate


class _Registration(BaseModel):
    """What every registration carries: a name, where the node answers, and its settings."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    url: str = Field(
        min_length=1, max_length=2_000, description="https://host:8080 (LND REST) or the LNbits URL"
    )
    settings: NodeSettings = Field(default_factory=NodeSettings)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        """An http(s) URL with a host; nothing else reaches a node client."""
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("url must be an http(s) URL with a host")
        return url


class LndRegistration(_Registration):
    """An LND node over REST: a macaroon and, for its self-signed certificate, the tls.cert to pin."""

    backend: Literal["lnd"]
    macaroon: SecretStr = Field(
        min_length=1, description="hex or base64; info:read, offchain:read/write suffice"
    )
    tls_cert_pem: str | None = Field(
        default=None, max_length=20_000, description="the node's tls.cert, to pin"
    )

    @field_validator("tls_cert_pem")
    @classmethod
    def _pem(cls, pem: str | None) -> str | None:
        """A PEM certificate, or nothing (then the system CAs verify the node)."""
        if pem is not None and "BEGIN CERTIFICATE" not in pem:
            raise ValueError("tls_cert_pem must be a PEM certificate")
        return pem


class LnbitsRegistration(_Registration):
    """An LNbits node API: a Bearer token of an admin user (a super user to write fees)."""

    backend: Literal["lnbits"]
    admin_token: SecretStr = Field(min_length=1, description="Bearer token of an admin user")
    wallet_api_key: SecretStr | None = Field(default=None, description="wallet key, for the balance")


# What an operator sends to register a node; `backend` decides which credential is required.
NodeRegistration = Annotated[LndRegistration | LnbitsRegistration, Field(discriminator="backend")]


class NodeService:
    """Node records of one tenant, their vault credentials and their settings."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def register(
        self, tenant_id: str, request: LndRegistration | LnbitsRegistration
    ) -> tuple[NodeRecord, list[str]]:
        """Store the node and its encrypted credential; returns warnings about the credential."""
        runtime = self.runtime
        settings = parse_node_settings(
            request.settings.model_dump(mode="json"), runtime.profiles, runtime.settings.profile
        )
        require_mode(RolloutStage.SHADOW, settings.mode, "<new node>")  # a new node starts in shadow
        secret, warnings = self._credential(request)
        node = NodeRecord(
            tenant_id=tenant_id,
            name=request.name,
            backend=NodeBackend(request.backend),
            url=request.url.rstrip("/"),
            tls_cert_pem=request.tls_cert_pem if isinstance(request, LndRegistration) else None,
            credential_id="pending",
            settings=settings.model_dump(mode="json"),
        )
        context = credential_context(node)
        node = node.model_copy(update={"credential_id": context.record_id})
        await runtime.storage.secrets.add(runtime.vault.encrypt(context, secret))
        try:
            await runtime.storage.nodes.add(node)
        except BaseException:
            await runtime.storage.secrets.delete(context)  # nothing half-registered stays behind
            raise
        return node, warnings

    @staticmethod
    def _credential(request: LndRegistration | LnbitsRegistration) -> tuple[bytes, list[str]]:
        if isinstance(request, LndRegistration):
            raw = macaroon_bytes(request.macaroon.get_secret_value())
            try:
                warnings = parse_macaroon(raw).warnings()
            except InvalidInputError:
                warnings = ["the macaroon could not be decoded; its permissions are unknown"]
            return raw, warnings
        wallet = request.wallet_api_key.get_secret_value() if request.wallet_api_key else None
        payload = {"admin_token": request.admin_token.get_secret_value(), "wallet_api_key": wallet}
        return json.dumps(payload).encode(), []

    async def get(self, tenant_id: str, node_id: str) -> NodeRecord:
        """One node of the tenant (404 for another tenant's); from the cache while storage is down."""
        key = cache_key(tenant_id, node_id, "node")
        try:
            node = await self.runtime.storage.nodes.get(tenant_id, node_id)
        except StorageUnavailableError:
            cached = await self.runtime.cache.get_json(key)
            if cached is None:
                raise
            return NodeRecord.model_validate(cached)
        await self.runtime.cache.set_json(key, node.model_dump(mode="json"), TtlClass.NODE)
        return node

    async def list(self, tenant_id: str, limit: int, cursor: str | None) -> Page[NodeRecord]:
        """The tenant's nodes, newest first."""
        return await self.runtime.storage.nodes.list(tenant_id, limit=limit, cursor=cursor)

    async def delete(self, node: NodeRecord) -> None:
        """Remove the node, its credential, its client, cached graph and cache entries."""
        runtime = self.runtime
        if not await runtime.storage.nodes.delete(node.tenant_id, node.id):  # a concurrent delete won
            raise NotFoundError(f"node {node.id} not found", {"node_id": node.id})
        await runtime.storage.secrets.delete(credential_context(node))
        await runtime.clients.drop(node.id)
        runtime.graphs.drop(f"node:{node.id}")
        await runtime.cache.invalidate_node(node.tenant_id, node.id)
        # Transactions, backups and the audit trail stay as history; the per-node state goes.
        storage = runtime.storage
        for repository in (storage.rollouts, storage.budgets, storage.policy_states, storage.balance_states):
            await repository.delete(node.tenant_id, node.id)

    def settings(self, node: NodeRecord) -> NodeSettings:
        """The node's settings, from the record the route already resolved."""
        return parse_node_settings(node.settings, self.runtime.profiles, self.runtime.settings.profile)

    async def update_settings(self, node: NodeRecord, data: dict[str, Any], actor: str) -> NodeSettings:
        """Replace the node's settings after validating them with the validator's own bounds.

        The mode must be one the node's rollout stage allows (409 mode_not_allowed otherwise).
        """
        runtime = self.runtime
        settings = parse_node_settings(data, runtime.profiles, runtime.settings.profile)
        rollouts = RolloutService(runtime.storage, runtime.settings, runtime.alerts, runtime.clock)
        require_mode((await rollouts.state(node)).stage, settings.mode, node.id)
        stored = settings.model_dump(mode="json")
        await runtime.storage.nodes.update(node.tenant_id, node.id, NodeUpdate(settings=stored))
        await runtime.cache.invalidate_node(node.tenant_id, node.id)
        await runtime.storage.audit.add(
            AuditRecord(
                tenant_id=node.tenant_id,
                actor=actor,
                action="node.settings",
                outcome="changed",
                node_id=node.id,
                target=f"node {node.id}",
                details={"mode": settings.mode.value},
                before=node.settings,
                after=stored,
            )
        )
        return settings
