"""One NodeClient per registered node, kept across requests so its circuit breaker and pool persist."""

from __future__ import annotations

import asyncio
import json

from app.nodes.base import NodeClient
from app.nodes.lnbits import LnbitsClient, lnbits_transport
from app.nodes.lnd_rest import LndRestClient
from app.nodes.transport import TransportSettings
from app.resilience.circuit import CircuitSettings, CircuitState
from app.security.vault import CredentialContext, CredentialKind, Vault
from app.settings import Settings
from app.storage.database import Storage
from app.storage.records import NodeBackend, NodeRecord

CREDENTIAL_KIND = {
    NodeBackend.LND: CredentialKind.LND_MACAROON,
    NodeBackend.LNBITS: CredentialKind.LNBITS_ADMIN_KEY,
}


def credential_context(node: NodeRecord) -> CredentialContext:
    """Where a node's credential lives in the vault."""
    return CredentialContext(tenant_id=node.tenant_id, node_id=node.id, kind=CREDENTIAL_KIND[node.backend])


class NodeClientRegistry:
    """Builds clients from node records and vault credentials; decrypts once per client, audited."""

    def __init__(
        self,
        storage: Storage,
        vault: Vault,
        transport: TransportSettings | None = None,
        lnbits: TransportSettings | None = None,
        lnbits_concurrency: int = 4,
    ) -> None:
        self._storage = storage
        self._vault = vault
        self._transport = transport or TransportSettings()
        self._lnbits = lnbits or lnbits_transport(base=self._transport)
        self._lnbits_concurrency = lnbits_concurrency
        self._clients: dict[str, NodeClient] = {}
        self._lock = asyncio.Lock()

    async def get(self, node: NodeRecord, actor: str) -> NodeClient:
        """The live client of a node (created on first use)."""
        async with self._lock:
            client = self._clients.get(node.id)
            if client is None:
                client = await self._build(node, actor)
                self._clients[node.id] = client
            return client

    async def _build(self, node: NodeRecord, actor: str) -> NodeClient:
        context = credential_context(node)
        secret = await self._storage.secrets.get_for(context)
        plaintext = await self._vault.decrypt(secret, context, actor=actor, purpose="connect to node")
        if node.backend is NodeBackend.LND:
            return LndRestClient(
                node.id, node.url, plaintext, tls_cert_pem=node.tls_cert_pem, settings=self._transport
            )
        credentials = json.loads(plaintext)
        return LnbitsClient(
            node.id,
            node.url,
            credentials["admin_token"],
            credentials.get("wallet_api_key"),
            settings=self._lnbits,
            concurrency=self._lnbits_concurrency,
        )

    async def drop(self, node_id: str) -> None:
        """Close and forget a node's client (node deleted or credentials replaced)."""
        async with self._lock:
            client = self._clients.pop(node_id, None)
        if client is not None:
            await client.aclose()

    def unreachable(self, node_id: str) -> bool:
        """True while the node's circuit is open (calls are refused until the cool-down ends)."""
        client = self._clients.get(node_id)
        return client is not None and client.circuit_state is CircuitState.OPEN

    def circuit_state(self, node_id: str) -> CircuitState | None:
        """The node's circuit, or None while no client exists (nothing called it since start-up)."""
        client = self._clients.get(node_id)
        return None if client is None else client.circuit_state

    def circuit_states(self) -> dict[str, CircuitState]:
        """Circuit state of every live client, by node id."""
        return {node_id: client.circuit_state for node_id, client in self._clients.items()}

    async def close(self) -> None:
        """Close every client."""
        async with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


def client_registry(storage: Storage, vault: Vault, settings: Settings) -> NodeClientRegistry:
    """The registry with per-backend transports from the settings (an LNbits server is not an LND node)."""
    lnd = TransportSettings(
        total_timeout_s=settings.node_call_deadline_s,
        circuit=CircuitSettings(cooldown_s=settings.node_circuit_cooldown_s),
    )
    lnbits = lnbits_transport(settings.lnbits_requests_per_second, settings.lnbits_read_timeout_s, base=lnd)
    return NodeClientRegistry(storage, vault, lnd, lnbits, settings.lnbits_concurrency)
