"""Tenant isolation: tenant B's every read and write misses tenant A's documents, in every repository."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from app.domain.access import ApiKeyRole
from app.domain.decision import DecisionStatus
from app.domain.execution import TransactionState
from app.domain.jobs import JobKind
from app.domain.policy import PolicySource
from app.domain.validation import IssueCode
from app.engine.cycle import CycleReport
from app.errors import NotFoundError
from app.security.keys import MasterKey
from app.security.vault import CredentialContext, CredentialKind, Keyring, Vault
from app.storage.balances import BalanceMovesRecord
from app.storage.base import Repository
from app.storage.database import Storage
from app.storage.decisions import DecisionCounts
from app.storage.fields import utc_now
from app.storage.jobs import JobRecord
from app.storage.records import NodeUpdate
from tests.storage import builders
from tests.storage.builders import T0

# Methods without a tenant id, on purpose: tenants themselves, leases (named by scope), the key lookup that
# finds the caller's tenant, and the SecretStore protocol, whose record ids name their tenant.
UNSCOPED = {
    "ApiKeyRepository.find_active_by_hash",
    "SecretRepository.list_ids",
    "SecretRepository.get",
    "SecretRepository.compare_and_swap",
    # Platform jobs over every tenant: crash recovery and backup export/retention.
    "TransactionRepository.unfinished",
    "BackupRepository.not_exported",
    "BackupRepository.created_before",
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
        # A CredentialContext carries its tenant; so does a stored record passed back for compare-and-set.
        assert first in {"tenant_id", "context", "record", "old"}, qualified


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
    await storage.channel_lists.replace(a, node.id, "c1", [{"chan_id": "1"}])
    writing = next(r for r in builders.decisions(cycle_report, a, node.id) if r.kind.writes_policy)
    decision = writing.model_copy(update={"status": DecisionStatus.NEEDS_APPROVAL})
    await storage.decisions.add_many([decision])
    await storage.audit.add(builders.audit(a, T0, node_id=node.id))
    vault = Vault(Keyring(MasterKey(bytes(32))), storage.audit_sink)
    a_context = CredentialContext(tenant_id=a, node_id=node.id, kind=CredentialKind.LND_MACAROON)
    b_context = a_context.model_copy(update={"tenant_id": b})
    await storage.secrets.add(vault.encrypt(a_context, b"macaroon"))
    batch = await storage.transactions.add(builders.transaction(a, node.id))
    await storage.journal.add_many([builders.journal_entry(batch)])
    saved = await storage.backups.add(builders.backup(a, node.id))
    rollout = await storage.rollouts.change(
        a, node.id, lambda r: r.model_copy(update={"canary_channels": [chan]})
    )
    await storage.budgets.reserve(a, node.id, batch.id, 2, cap=5, now=utc_now())
    state = await storage.policy_states.change(a, node.id, lambda r: r.model_copy(update={"channels": {}}))
    balances = await storage.balance_states.change(
        a, node.id, lambda r: r.model_copy(update={"taken_at_s": 1, "balances_sat": {chan: 5}})
    )
    job = JobRecord(
        tenant_id=a, node_id=node.id, kind=JobKind.SYNC, actor="x", instance_id="i", heartbeat_ms=1
    )
    await storage.jobs.add(job)
    await storage.balance_moves.add(
        BalanceMovesRecord(tenant_id=a, node_id=node.id, taken_at=recent, previous_s=1, moves_sat={chan: -5})
    )
    budget = await storage.budgets.load(a, node.id)
    foreign = batch.model_copy(update={"tenant_id": b})

    async def missing(call: Awaitable[Any]) -> None:
        """The call raises NotFoundError."""
        with pytest.raises(NotFoundError):
            await call

    async def empty(call: Awaitable[Any]) -> None:
        """The call finds nothing: None, an empty list or page, zero, False, or an empty report."""
        result = await call
        items = getattr(result, "items", result)
        assert items in (None, [], 0, False, set()) or getattr(result, "total", None) == 0, result

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
        "ChannelListRepository.get": lambda: empty(storage.channel_lists.get(b, node.id, "c1")),
        # Before B's replace below writes a list of B's own (which B may delete).
        "ChannelListRepository.delete": lambda: empty(storage.channel_lists.delete(b, node.id)),
        "ChannelListRepository.replace": lambda: _list_kept(storage, a, b, node.id),
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
        "MetricRepository.recent": lambda: empty(storage.metrics.recent(b, node.id, "local_balance_sat", 10)),
        "MetricRepository.count": lambda: empty(
            storage.metrics.count(b, node.id, "local_balance_sat", since=T0, until=utc_now())
        ),
        "DecisionRepository.get": lambda: missing(storage.decisions.get(b, decision.id)),
        "DecisionRepository.set_status": lambda: missing(
            storage.decisions.set_status(
                b, decision.id, DecisionStatus.NEEDS_APPROVAL, DecisionStatus.APPROVED, "x"
            )
        ),
        "DecisionRepository.list": lambda: empty(storage.decisions.list(b, node.id)),
        "DecisionRepository.latest_cycle_summaries": lambda: empty(
            storage.decisions.latest_cycle_summaries(b, node.id)
        ),
        "DecisionRepository.shadow_report": lambda: empty(
            storage.decisions.shadow_report(b, node.id, days=7, now=T0 + timedelta(days=1))
        ),
        "AuditRepository.list": lambda: empty(storage.audit.list(b, node_id=node.id)),
        "SecretRepository.get_for": lambda: missing(storage.secrets.get_for(b_context)),
        "SecretRepository.delete": lambda: empty(storage.secrets.delete(b_context)),
        "SecretRepository.list_for_tenant": lambda: empty(storage.secrets.list_for_tenant(b)),
        "DecisionRepository.settle": lambda: empty(
            storage.decisions.settle(
                b, decision.id, frozenset({DecisionStatus.NEEDS_APPROVAL}), DecisionStatus.EXPIRED
            )
        ),
        "DecisionRepository.rejected_with_codes_since": lambda: empty(
            storage.decisions.rejected_with_codes_since(b, node.id, T0, [code.value for code in IssueCode])
        ),
        "DecisionRepository.latest_cycle_counts": lambda: _no_counts(
            storage.decisions.latest_cycle_counts(b, node.id)
        ),
        "DecisionRepository.expire_pending": lambda: empty(
            storage.decisions.expire_pending(b, node.id, [DecisionStatus.NEEDS_APPROVAL])
        ),
        "TransactionRepository.get": lambda: missing(storage.transactions.get(b, batch.id)),
        "TransactionRepository.list": lambda: empty(storage.transactions.list(b, node.id)),
        "TransactionRepository.since": lambda: empty(storage.transactions.since(b, node.id, T0)),
        "TransactionRepository.update": lambda: missing(storage.transactions.update(foreign, note=None)),
        "TransactionRepository.advance": lambda: missing(
            storage.transactions.advance(foreign, TransactionState.BACKED_UP)
        ),
        "JournalRepository.for_transaction": lambda: empty(storage.journal.for_transaction(b, batch.id)),
        "JournalRepository.channels_of": lambda: empty(storage.journal.channels_of(b, [batch.id])),
        "BackupRepository.get": lambda: missing(storage.backups.get(b, saved.id)),
        "BackupRepository.latest": lambda: empty(storage.backups.latest(b, node.id)),
        "BackupRepository.list": lambda: empty(storage.backups.list(b, node.id)),
        "BackupRepository.delete": lambda: empty(storage.backups.delete(b, saved.id)),
        "BackupRepository.mark_exported": lambda: _not_exported(storage, saved, a, b),
        "RolloutRepository.load": lambda: _default(storage.rollouts.load(b, node.id)),
        "RolloutRepository.save": lambda: _saved_as(storage.rollouts, rollout, b),
        "RolloutRepository.change": lambda: _default(storage.rollouts.change(b, node.id, lambda r: None)),
        "RolloutRepository.delete": lambda: empty(storage.rollouts.delete(b, node.id)),
        "BudgetRepository.load": lambda: _default(storage.budgets.load(b, node.id)),
        "BudgetRepository.save": lambda: _saved_as(storage.budgets, budget, b),
        "BudgetRepository.change": lambda: _default(storage.budgets.change(b, node.id, lambda r: None)),
        "BudgetRepository.delete": lambda: empty(storage.budgets.delete(b, node.id)),
        "BudgetRepository.used": lambda: empty(storage.budgets.used(b, node.id, utc_now())),
        "BudgetRepository.reserve": lambda: _reserved_alone(storage, b, node.id),
        "BudgetRepository.settle": lambda: empty(storage.budgets.settle(b, node.id, batch.id, 0)),
        "PolicyStateRepository.load": lambda: _default(storage.policy_states.load(b, node.id)),
        "PolicyStateRepository.save": lambda: _saved_as(storage.policy_states, state, b),
        "PolicyStateRepository.change": lambda: _default(
            storage.policy_states.change(b, node.id, lambda r: None)
        ),
        "PolicyStateRepository.delete": lambda: empty(storage.policy_states.delete(b, node.id)),
        "BalanceStateRepository.load": lambda: _default(storage.balance_states.load(b, node.id)),
        "BalanceStateRepository.save": lambda: _saved_as(storage.balance_states, balances, b),
        "BalanceStateRepository.change": lambda: _default(
            storage.balance_states.change(b, node.id, lambda r: None)
        ),
        "BalanceStateRepository.delete": lambda: empty(storage.balance_states.delete(b, node.id)),
        "BalanceMovesRepository.since": lambda: empty(storage.balance_moves.since(b, node.id, T0)),
        "JobRepository.get": lambda: missing(storage.jobs.get(b, job.id)),
        "JobRepository.for_node": lambda: empty(storage.jobs.for_node(b, node.id)),
        "JobRepository.save": lambda: _job_untouched(storage, job, b),
    }
    assert set(checks) == scoped_methods(storage), "a new tenant-scoped method needs an isolation check"
    for check in checks.values():
        await check()
    assert await storage.secrets.get(b_context.record_id) is None

    # Tenant A still has everything, unchanged by B's attempts.
    assert [i.moves_sat for i in await storage.balance_moves.since(a, node.id, T0)] == [{chan: -5}]
    assert (await storage.balance_states.load(a, node.id)).balances_sat == {chan: 5}
    assert await storage.nodes.get(a, node.id) == node
    assert (await storage.api_keys.get(a, key.id)).active
    assert (await storage.decisions.get(a, decision.id)).status is DecisionStatus.NEEDS_APPROVAL
    report = await storage.decisions.shadow_report(a, node.id, days=7, now=T0 + timedelta(days=1))
    assert report.by_status == {DecisionStatus.NEEDS_APPROVAL.value: 1}  # waiting, so not in the total
    assert (await storage.decisions.latest_cycle_counts(a, node.id)).statuses == {"needs_approval": 1}
    assert await storage.channels.latest(a, node.id, chan) == snapshot
    assert await storage.policies.latest(a, node.id, chan, source=PolicySource.APPLIED) is not None
    assert len(await storage.policies.node_history(a, node.id, since=T0)) == 1
    assert await storage.metrics.latest(a, node.id, "local_balance_sat") is not None
    assert len((await storage.audit.list(a)).items) == 1
    assert await storage.secrets.list_for_tenant(a) == [a_context.record_id]
    assert await storage.transactions.get(a, batch.id) == batch
    assert len(await storage.journal.for_transaction(a, batch.id)) == 1
    assert (await storage.backups.get(a, saved.id)).exported_at is None
    assert await storage.rollouts.load(a, node.id) == rollout
    assert await storage.budgets.used(a, node.id, utc_now()) == 2
    assert await storage.policy_states.load(a, node.id) == state


async def _list_kept(storage: Storage, owner: str, other: str, node_id: str) -> None:
    """Another tenant's list for the same node id replaces nothing of the owner's."""
    await storage.channel_lists.replace(other, node_id, "c2", [])
    assert await storage.channel_lists.get(owner, node_id, "c1") == [{"chan_id": "1"}]


async def _no_counts(call: Awaitable[DecisionCounts]) -> None:
    """Nothing counted: no kind, no status."""
    counts = await call
    assert counts.kinds == {} and counts.statuses == {}, counts


async def _default(call: Awaitable[Any]) -> None:
    """A per-node document of the other tenant reads as a fresh default (version 0)."""
    assert (await call).version == 0


async def _saved_as(repository: Any, record: Any, tenant_id: str) -> None:
    """Saving tenant A's document under tenant B's id matches nothing."""
    moved = record.model_copy(update={"tenant_id": tenant_id})
    assert await repository.save(moved, moved) is False


async def _not_exported(storage: Storage, saved: Any, owner: str, other: str) -> None:
    """Marking A's backup exported as tenant B leaves A's backup untouched."""
    await storage.backups.mark_exported(saved.model_copy(update={"tenant_id": other}), utc_now())
    assert (await storage.backups.get(owner, saved.id)).exported_at is None


async def _reserved_alone(storage: Storage, tenant_id: str, node_id: str) -> None:
    """Tenant B's ledger for the same node id does not count tenant A's slots."""
    assert await storage.budgets.reserve(tenant_id, node_id, "other", 5, cap=5, now=utc_now()) == 5


async def _job_untouched(storage: Storage, job: JobRecord, other: str) -> None:
    """Saving a copy claimed by another tenant changes nothing of the owner's job."""
    await storage.jobs.save(job.model_copy(update={"tenant_id": other, "actor": "intruder"}))
    assert (await storage.jobs.get(job.tenant_id, job.id)).actor == "x"
