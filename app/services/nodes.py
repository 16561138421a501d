"""Register, read and remove a tenant's nodes; credentials go straight into the vault and never come back."""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from app.cache.keys import cache_key
from app.cache.ttl import TtlClass
from app.domain.base import Name
from app.domain.execution import RolloutStage
from app.errors import ConflictError, InvalidInputError, NotFoundError, StorageUnavailableError
from app.security.certificates import MAX_PEM_CHARS, check_pinned_certificate
from app.security.macaroons import macaroon_bytes, parse_macaroon
from app.security.node_urls import NodeUrlPolicy
from app.services.clients import credential_context
from app.services.node_settings import NodeSettings, parse_node_settings
from app.services.rollout import RolloutService, require_mode
from app.services.runtime import ServiceRuntime
from app.settings import Settings
from app.storage.paging import Page
from app.storage.records import AuditRecord, NodeBackend, NodeRecord, NodeUpdate

MAX_URL_CHARS = 2_000
MAX_MACAROON_CHARS = 16_384  # hex of a macaroon with many caveats; LND's admin macaroon is ~500 characters
MAX_TOKEN_CHARS = 1_024


def node_url(url: str) -> str:
    """An http(s) URL with a host and nothing a log line or another tenant should see (no user:password@)."""
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise ValueError("url must not contain spaces or control characters")
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError("url must be an http(s) URL with a host")
    if parsed.username is not None or parsed.password is not None:
        raise ValueError("url must not carry credentials; send them as the node's credential")
    try:
        parsed.port  # noqa: B018  (raises on a port outside 0-65535)
    except ValueError:
        raise ValueError("url has an invalid port") from None
    return url.rstrip("/")


def pinned_certificate(pem: str | None) -> str | None:
    """A certificate both cryptography and ssl can load, or nothing (then the system CAs verify the node)."""
    if pem is not None:
        check_pinned_certificate(pem)
    return pem


NodeUrl = Annotated[
    str,
    Field(
        min_length=1, max_length=MAX_URL_CHARS, description="https://host:8080 (LND REST) or the LNbits URL"
    ),
    AfterValidator(node_url),
]
PinnedCertificate = Annotated[
    str | None,
    Field(max_length=MAX_PEM_CHARS, description="the node's tls.cert, to pin"),
    AfterValidator(pinned_certificate),
]
Macaroon = Annotated[
    SecretStr,
    Field(
        min_length=1,
        max_length=MAX_MACAROON_CHARS,
        description="hex or base64; info:read, offchain:read/write suffice",
    ),
]
Token = Annotated[SecretStr, Field(min_length=1, max_length=MAX_TOKEN_CHARS)]


class _Registration(BaseModel):
    """What every registration carries: a name, where the node answers, and its settings."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    url: NodeUrl
    settings: NodeSettings = Field(default_factory=NodeSettings)


class LndRegistration(_Registration):
    """An LND node over REST: a macaroon and, for its self-signed certificate, the tls.cert to pin."""

    backend: Literal["lnd"]
    macaroon: Macaroon
    tls_cert_pem: PinnedCertificate = None


class LnbitsRegistration(_Registration):
    """An LNbits node API: a Bearer token of an admin user (a super user to write fees)."""

    backend: Literal["lnbits"]
    admin_token: Token = Field(description="Bearer token of an admin user")
    wallet_api_key: Token | None = Field(default=None, description="wallet key, for the balance")


class NodeChange(BaseModel):
    """A PATCH of a node: only the fields sent change; a credential replaces the old one in the vault.

    `tls_cert_pem: null` unpins the certificate (the system CAs verify the node from then on).
    """

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    url: NodeUrl | None = None
    tls_cert_pem: PinnedCertificate = None
    macaroon: Macaroon | None = Field(default=None, description="LND nodes: the new macaroon")
    admin_token: Token | None = Field(default=None, description="LNbits nodes: the new admin token")
    wallet_api_key: Token | None = Field(default=None, description="LNbits nodes: the new wallet key")


RECORD_FIELDS = frozenset({"name", "url", "tls_cert_pem"})
LND_ONLY = frozenset({"macaroon", "tls_cert_pem"})
LNBITS_CREDENTIALS = frozenset({"admin_token", "wallet_api_key"})


def service_ports(settings: Settings) -> set[int]:
    """The ports of this service's own storage and cache, which no node URL may reach."""
    ports = set()
    for secret in (settings.mongodb_url, settings.redis_url):
        if secret is not None:
            with contextlib.suppress(ValueError):
                ports.add(urlsplit(secret.get_secret_value()).port or 0)
    return ports - {0}


# What an operator sends to register a node; `backend` decides which credential is required.
NodeRegistration = Annotated[LndRegistration | LnbitsRegistration, Field(discriminator="backend")]


class NodeService:
    """Node records of one tenant, their vault credentials and their settings."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    def url_policy(self) -> NodeUrlPolicy:
        """Which URLs this deployment lets a tenant point the service at."""
        settings = self.runtime.settings
        return NodeUrlPolicy(settings.allow_private_node_urls, service_ports(settings))

    async def register(
        self, tenant_id: str, request: LndRegistration | LnbitsRegistration, serving_port: int | None = None
    ) -> tuple[NodeRecord, list[str]]:
        """Store the node and its encrypted credential; returns warnings about the credential."""
        runtime = self.runtime
        await self.url_policy().check(request.url, serving_port)
        settings = parse_node_settings(
            request.settings.model_dump(mode="json"), runtime.profiles, runtime.settings.profile
        )
        require_mode(RolloutStage.SHADOW, settings.mode, "<new node>")  # a new node starts in shadow
        secret, warnings = self._credential(request)
        if isinstance(request, LndRegistration) and request.tls_cert_pem is not None:
            warnings += check_pinned_certificate(request.tls_cert_pem)
        node = NodeRecord(
            tenant_id=tenant_id,
            name=request.name,
            backend=NodeBackend(request.backend),
            url=request.url,
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
        """One node of the tenant (404 for another tenant's); remembered in this process until invalidated.

        Every write to a node calls `cache.invalidate_node`, which drops the remembered record here at once
        and on other replicas within the generation check; the shared cache copy serves while storage is down.
        """
        return await self.runtime.cache.remembered(
            ("node", tenant_id, node_id),  # the tenant is part of the key: never another tenant's node
            lambda: self._read(tenant_id, node_id),
            tenant_id=tenant_id,
            node_id=node_id,
            max_age_s=TtlClass.NODE.seconds,
        )

    async def _read(self, tenant_id: str, node_id: str) -> NodeRecord:
        key = cache_key(tenant_id, node_id, "node")
        try:
            node = await self.runtime.storage.nodes.get(tenant_id, node_id)
        except StorageUnavailableError:
            cached = await self.runtime.cache.get_json(key)
            if cached is None:
                raise
            return NodeRecord.model_validate(cached)
        await self.runtime.cache.set_json(key, node.model_dump(mode="json"), TtlClass.NODE)  # on a fill only
        return node

    async def change(
        self, node: NodeRecord, change: NodeChange, actor: str, serving_port: int | None = None
    ) -> tuple[NodeRecord, list[str]]:
        """Apply a PATCH: new fields on the record, a new credential in the vault (the old one is gone)."""
        runtime = self.runtime
        sent = change.model_fields_set
        wrong = sent & (LNBITS_CREDENTIALS if node.backend is NodeBackend.LND else LND_ONLY)
        if wrong:
            raise InvalidInputError(
                f"a {node.backend.value} node has no {', '.join(sorted(wrong))}", {"fields": sorted(wrong)}
            )
        if change.url is not None:
            await self.url_policy().check(change.url, serving_port)
        warnings: list[str] = []
        if change.tls_cert_pem is not None:
            warnings += check_pinned_certificate(change.tls_cert_pem)
        cleared = sorted(
            name for name in sent - {"tls_cert_pem", "wallet_api_key"} if getattr(change, name) is None
        )
        if cleared:  # only the pinned certificate and LNbits' optional wallet key may be removed
            raise InvalidInputError(f"{', '.join(cleared)} cannot be cleared", {"fields": cleared})
        fields = {name: getattr(change, name) for name in sent & RECORD_FIELDS}
        if sent & (LND_ONLY | LNBITS_CREDENTIALS) - {"tls_cert_pem"}:
            warnings += await self._replace_credential(node, change, actor)
        updated = await runtime.storage.nodes.update(node.tenant_id, node.id, NodeUpdate(**fields))
        # The next call connects with the new URL, certificate or credential.
        await runtime.clients.drop(node.id)
        await runtime.cache.invalidate_node(node.tenant_id, node.id)
        pinned = {"name": node.name, "url": node.url, "tls_cert_pinned": node.tls_cert_pem is not None}
        now = {"name": updated.name, "url": updated.url, "tls_cert_pinned": updated.tls_cert_pem is not None}
        # Field names only in the details: never a credential.
        await self._audit(node, actor, "node.change", {"fields": ", ".join(sorted(sent))}, pinned, now)
        return updated, warnings

    async def _audit(
        self,
        node: NodeRecord,
        actor: str,
        action: str,
        details: dict[str, str | int | float | bool | None],
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> None:
        """One audited change of the node."""
        await self.runtime.storage.audit.add(
            AuditRecord(
                tenant_id=node.tenant_id, actor=actor, action=action, outcome="changed", node_id=node.id,
                target=f"node {node.id}", details=details, before=before, after=after,
            )
        )  # fmt: skip

    async def _replace_credential(self, node: NodeRecord, change: NodeChange, actor: str) -> list[str]:
        """Seal the new credential under the same vault record, replacing (and so destroying) the old one."""
        runtime = self.runtime
        context = credential_context(node)
        current = await runtime.storage.secrets.get_for(context)
        if node.backend is NodeBackend.LND:
            assert change.macaroon is not None  # the only LND credential field
            secret, warnings = self._credential(
                LndRegistration(backend="lnd", name=node.name, url=node.url, macaroon=change.macaroon)
            )
        else:
            old = json.loads(
                await runtime.vault.decrypt(current, context, actor=actor, purpose="change credential")
            )
            token = change.admin_token.get_secret_value() if change.admin_token else old["admin_token"]
            sent = change.model_fields_set
            wallet = change.wallet_api_key if "wallet_api_key" in sent else old.get("wallet_api_key")
            wallet_text = wallet.get_secret_value() if isinstance(wallet, SecretStr) else wallet
            secret, warnings = json.dumps({"admin_token": token, "wallet_api_key": wallet_text}).encode(), []
        sealed = runtime.vault.encrypt(context, secret, version=current.version + 1)
        if not await runtime.storage.secrets.compare_and_swap(context.record_id, current.version, sealed):
            raise ConflictError("the node's credential changed meanwhile; send the change again")
        return warnings

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
        per_node = (storage.rollouts, storage.budgets, storage.policy_states, storage.balance_states)
        for repository in (*per_node, storage.channel_lists):
            await repository.delete(node.tenant_id, node.id)

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
        await self._audit(node, actor, "node.settings", {"mode": settings.mode.value}, node.settings, stored)
        return settings
