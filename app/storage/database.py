"""Storage: one AsyncMongoClient, its database, the repositories, and the embedded server when there is one."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import InvalidName, PyMongoError

from app.errors import ConfigError
from app.settings import Settings
from app.storage.api_keys import ApiKeyRepository
from app.storage.audit import AuditRepository, MongoAuditSink
from app.storage.backups import BackupRepository
from app.storage.balances import BalanceMovesRepository, BalanceStateRepository
from app.storage.channel_lists import ChannelListRepository
from app.storage.channels import ChannelRepository
from app.storage.credentials import SecretRepository
from app.storage.decisions import DecisionRepository
from app.storage.documents import Document
from app.storage.embedded import EmbeddedMongo
from app.storage.indexes import ensure_indexes
from app.storage.jobs import JobRepository
from app.storage.journal import JournalRepository
from app.storage.leases import LeaseRepository
from app.storage.metrics import MetricRepository
from app.storage.node_state import BudgetRepository, PolicyStateRepository, RolloutRepository
from app.storage.nodes import NodeRepository
from app.storage.policies import PolicyRepository
from app.storage.tenants import TenantRepository
from app.storage.transactions import TransactionRepository

APP_NAME = "lightning-fee-control-plane"
_log = logging.getLogger(__name__)


def connect(url: str, timeout_ms: int) -> AsyncMongoClient[Document]:
    """A client that notices an outage within `timeout_ms` and returns timezone-aware UTC datetimes."""
    return AsyncMongoClient(
        url,
        tz_aware=True,
        tzinfo=UTC,
        appname=APP_NAME,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        # Bounds a server that accepted the request and hangs; generous, as a report may scan a while.
        socketTimeoutMS=max(10 * timeout_ms, 30_000),
    )


@dataclass
class Storage:
    """Everything persistence offers the service; build it with `open_storage`, end it with `close`."""

    client: AsyncMongoClient[Document]
    database: AsyncDatabase[Document]
    embedded: EmbeddedMongo | None = None
    tenants: TenantRepository = field(init=False)
    api_keys: ApiKeyRepository = field(init=False)
    nodes: NodeRepository = field(init=False)
    channels: ChannelRepository = field(init=False)
    channel_lists: ChannelListRepository = field(init=False)
    policies: PolicyRepository = field(init=False)
    metrics: MetricRepository = field(init=False)
    decisions: DecisionRepository = field(init=False)
    audit: AuditRepository = field(init=False)
    leases: LeaseRepository = field(init=False)
    secrets: SecretRepository = field(init=False)
    transactions: TransactionRepository = field(init=False)
    journal: JournalRepository = field(init=False)
    backups: BackupRepository = field(init=False)
    rollouts: RolloutRepository = field(init=False)
    budgets: BudgetRepository = field(init=False)
    policy_states: PolicyStateRepository = field(init=False)
    balance_states: BalanceStateRepository = field(init=False)
    balance_moves: BalanceMovesRepository = field(init=False)
    jobs: JobRepository = field(init=False)
    _closed: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self.tenants = TenantRepository(self.database)
        self.api_keys = ApiKeyRepository(self.database)
        self.nodes = NodeRepository(self.database)
        self.channels = ChannelRepository(self.database)
        self.channel_lists = ChannelListRepository(self.database)
        self.policies = PolicyRepository(self.database)
        self.metrics = MetricRepository(self.database)
        self.decisions = DecisionRepository(self.database)
        self.audit = AuditRepository(self.database)
        self.leases = LeaseRepository(self.database)
        self.secrets = SecretRepository(self.database)
        self.transactions = TransactionRepository(self.database)
        self.journal = JournalRepository(self.database)
        self.backups = BackupRepository(self.database)
        self.rollouts = RolloutRepository(self.database)
        self.budgets = BudgetRepository(self.database)
        self.policy_states = PolicyStateRepository(self.database)
        self.balance_states = BalanceStateRepository(self.database)
        self.balance_moves = BalanceMovesRepository(self.database)
        self.jobs = JobRepository(self.database)

    @property
    def audit_sink(self) -> MongoAuditSink:
        """An AuditSink for the vault that writes to the audit collection."""
        return MongoAuditSink(self.audit)

    async def ping(self) -> bool:
        """True when the database answers; never raises (degraded-mode detection)."""
        if self._closed:
            return False
        try:
            await self.client.admin.command("ping")
        except (PyMongoError, OSError, TimeoutError) as exc:
            _log.debug("storage ping failed: %s", exc)
            return False
        return True

    async def ensure_indexes(self) -> list[str]:
        """Create missing indexes (open_storage already did; for a database that was unreachable then)."""
        return await ensure_indexes(self.database)

    async def close(self) -> None:
        """Close the client, then stop the embedded server if we started one; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await _close_both(self.client, self.embedded)


async def open_storage(settings: Settings, *, in_memory: bool = False) -> Storage:
    """Connect (starting the embedded server when MCP_MONGODB_URL is unset), check, and create indexes.

    With `in_memory` the embedded server keeps its databases in memory (tests, demos); it is ignored when
    a URL is configured. Raises StorageUnavailableError when the database cannot be reached, after
    closing whatever it had started, so a failed start-up leaves no process behind.
    """
    embedded: EmbeddedMongo | None = None
    client: AsyncMongoClient[Document] | None = None
    try:
        if settings.mongodb_url is not None:
            url = settings.mongodb_url.get_secret_value()
            _log.info("storage: MongoDB from MCP_MONGODB_URL, database %s", settings.mongodb_database)
        else:
            embedded = EmbeddedMongo(None if in_memory else settings.data_dir)
            url = await embedded.start()
            _log.info("storage: embedded nx-27017 %r, database %s", embedded, settings.mongodb_database)
        client = connect(url, settings.mongodb_timeout_ms)
        try:
            database = client[settings.mongodb_database]
        except InvalidName as exc:
            raise ConfigError(f"MCP_MONGODB_DATABASE is not a valid database name: {exc}") from None
        storage = Storage(client=client, database=database, embedded=embedded)
        await storage.ensure_indexes()
        return storage
    except BaseException:
        await _close_both(client, embedded)
        raise


async def _close_both(client: AsyncMongoClient[Any] | None, embedded: EmbeddedMongo | None) -> None:
    """Close the client, then stop the embedded server, even when closing the client fails."""
    try:
        if client is not None:
            await client.close()
    finally:
        if embedded is not None:
            await embedded.stop()
