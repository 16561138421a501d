"""Tenant isolation: tenant B's every read and write misses tenant A's documents, in every repository."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from app.engine.cycle import CycleReport
from app.errors import NotFoundError
from app.security.keys import MasterKey
from app.security.vault import CredentialContext, CredentialKind, Keyring, Vault
from app.storage.base import Repository
from app.storage.database import Storage
from app.storage.fields import utc_now
from app.storage.records import ApiKeyRole, DecisionStatus, NodeUpdate, PolicySource
from tests.storage import builders
from tests.storage.builders import T0

# Methods without a tenant id, on purpose: tenants themselves, leases (named by scope), the key lookup that
# finds the caller's tenant, and the SecretStore protocol, whose record ids name their tenant.
UNSCOPED = {
    "ApiKeyRepository.find_active_by_hash",
    "SecretRepository.list_ids",
    "SecretRepository.get",
    "SecretRepository.compare_and_swap",
}
UNSCOPED_REPOSITORIES = {"TenantRepository", "LeaseRepository"}
# Writes of new records: the tenant id is a required field of each record (or the first argument of issue).
RECORD_WRITES = {"add", "add_many", "record", "issue"}


def scoped_methods(storage: Storage) -> set[str]:
    """`Repository.method` for every public method that must be tenant-scoped."""
    found = set()
    for repository in vars(storage).values():
        if not isinstance(repository, Repository) or type(repository).__name__ in UNSCOPED_REPOSITORIES:
            continue
        for name, _method in inspect.getmembers(repository, inspect.iscoroutinefunction):
            qualified = f"{type(repository).__name__}.{name}"
            if name.startswith("_") or name in RECORD_WRITES or qualified in UNSCOPED:
                continue
            found.add(qualified)
    return found


async def test_every_scoped_method_takes_the_tenant_first(storage: Storage):
    for qualified in scoped_methods(storage):
        repository_name, name = qualified.split(".")
        repository = next(r for r in vars(storage).values() if type(r).__name__ == repository_name)
        first = next(iter(inspect.signature(getattr(repository, name)).parameters))
        assert first in {"tenant_id", "context"}, qualified  # a CredentialContext carries its tenant


async def test_tenant_b_sees_nothing_of_tenant_a(storage: Storage, cycle_report: CycleReport):
    a, b = "tenant-a", "tenant-b"
    node = await storage.nodes.add(builders.node(a))
    key, _secret = await storage.api_keys.issue(a, ApiKeyRole.ADMIN, "admin")
    snapshot = builders.snapshots(cycle_report, a, node.id)[0]
    await storage.channels.add_many([snapshot])
    chan = snapshot.channel_id
    await storage.policies.add(builders.policy(a, node.id, chan, T0))
    recent = utc_now() - timedelta(minutes=5)
    await storage.metrics.record([builders.metric(a, node.id, recent, 1.0)])
    writing = next(r for r in builders.decisions(cycle_report, a, node.id) if r.kind.writes_policy)
    decision = writing.model_copy(update={"status": DecisionStatus.NEEDS_APPROVAL})
    await storage.decisions.add_many([decision])
    await storage.audit.add(builders.audit(a, T0, node_id=node.id))
    vault = Vault(Keyring(MasterKey(bytes(32))), storage.audit_sink)
    a_context = CredentialContext(tenant_id=a, node_id=node.id, kind=CredentialKind.LND_MACAROON)
    b_context = a_context.model_copy(update={"tenant_id": b})
    await storage.secrets.add(vault.encrypt(a_context, b"macaroon"))

    async def missing(call: Awaitable[Any]) -> None:
        """The call raises NotFoundError."""
        with pytest.raises(NotFoundError):
            await call

    async def empty(call: Awaitable[Any]) -> None:
        """The call finds nothing: None, an empty list or page, zero, False, or an empty report."""
        result = await call
        items = getattr(result, "items", result)
        assert items in (None, [], 0, False) or getattr(result, "total", None) == 0, result

    checks: dict[str, Callable[[], Awaitable[None]]] = {
        "ApiKeyRepository.get": lambda: missing(storage.api_keys.get(b, key.id)),
        "ApiKeyRepository.revoke": lambda: missing(storage.api_keys.revoke(b, key.id)),
        "ApiKeyRepository.list": lambda: empty(storage.api_keys.list(b)),
        "NodeRepository.get": lambda: missing(storage.nodes.get(b, node.id)),
        "NodeRepository.update": lambda: missing(
            storage.nodes.update(b, node.id, NodeUpdate(url="https://evil"))
        ),
        "NodeRepository.delete": lambda: empty(storage.nodes.delete(b, node.id)),
        "NodeRepository.list": lambda: empty(storage.nodes.list(b)),
        "ChannelRepository.latest": lambda: empty(storage.channels.latest(b, node.id, chan)),
        "ChannelRepository.for_cycle": lambda: empty(storage.channels.for_cycle(b, node.id, "c1")),
        "ChannelRepository.history": lambda: empty(storage.channels.history(b, node.id, chan)),
        "ChannelRepository.list": lambda: empty(storage.channels.list(b, node.id)),
        "PolicyRepository.latest": lambda: empty(storage.policies.latest(b, node.id, chan)),
        "PolicyRepository.count_since": lambda: empty(storage.policies.count_since(b, node.id, T0)),
        "PolicyRepository.history": lambda: empty(storage.policies.history(b, node.id, chan)),
        "PolicyRepository.node_history": lambda: empty(storage.policies.node_history(b, node.id, since=T0)),
        "MetricRepository.series": lambda: empty(
            storage.metrics.series(b, node.id, "local_balance_sat", since=T0)
        ),
        "MetricRepository.latest": lambda: empty(storage.metrics.latest(b, node.id, "local_balance_sat")),
        "DecisionRepository.get": lambda: missing(storage.decisions.get(b, decision.id)),
        "DecisionRepository.set_status": lambda: missing(
            storage.decisions.set_status(
                b, decision.id, DecisionStatus.NEEDS_APPROVAL, DecisionStatus.APPROVED, "x"
            )
        ),
        "DecisionRepository.list": lambda: empty(storage.decisions.list(b, node.id)),
        "DecisionRepository.shadow_report": lambda: empty(
            storage.decisions.shadow_report(b, node.id, days=7, now=T0 + timedelta(days=1))
        ),
        "AuditRepository.list": lambda: empty(storage.audit.list(b, node_id=node.id)),
        "SecretRepository.get_for": lambda: missing(storage.secrets.get_for(b_context)),
        "SecretRepository.delete": lambda: empty(storage.secrets.delete(b_context)),
        "SecretRepository.list_for_tenant": lambda: empty(storage.secrets.list_for_tenant(b)),
    }
    assert set(checks) == scoped_methods(storage), "a new tenant-scoped method needs an isolation check"
    for check in checks.values():
        await check()
    assert await storage.secrets.get(b_context.record_id) is None

    # Tenant A still has everything, unchanged by B's attempts.
    assert await storage.nodes.get(a, node.id) == node
    assert (await storage.api_keys.get(a, key.id)).active
    assert (await storage.decisions.get(a, decision.id)).status is DecisionStatus.NEEDS_APPROVAL
    assert (await storage.decisions.shadow_report(a, node.id, days=7, now=T0 + timedelta(days=1))).total == 1
    assert await storage.channels.latest(a, node.id, chan) == snapshot
    assert await storage.policies.latest(a, node.id, chan, source=PolicySource.APPLIED) is not None
    assert len(await storage.policies.node_history(a, node.id, since=T0)) == 1
    assert await storage.metrics.latest(a, node.id, "local_balance_sat") is not None
    assert len((await storage.audit.list(a)).items) == 1
    assert await storage.secrets.list_for_tenant(a) == [a_context.record_id]
