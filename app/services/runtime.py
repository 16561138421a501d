"""Everything services share, built once in the application lifespan."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from app.cache.facade import Cache
from app.clock import Clock, system_clock
from app.engine.profile import ProfileBook
from app.observability.metrics_runtime import sample_circuits
from app.resilience.modes import ServiceMode, current_mode
from app.resilience.ratelimit import FailedAuthLimiter, KeyRateLimiter
from app.runtime import GraphState
from app.security.vault import Vault
from app.services.alerts import AlertSink, LoggingAlertSink
from app.services.clients import NodeClientRegistry
from app.services.graphs import GraphCache
from app.services.jobs import JobRunner
from app.services.locks import NodeLocks
from app.settings import Settings
from app.storage.database import Storage


@dataclass
class ServiceRuntime:
    """Shared resources; lives on app.state.runtime, never in a module global."""

    settings: Settings
    storage: Storage
    cache: Cache
    vault: Vault
    profiles: ProfileBook
    default_graph: GraphState
    graphs: GraphCache
    clients: NodeClientRegistry
    limiter: KeyRateLimiter
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    storage_up: bool = True
    alerts: AlertSink = field(default_factory=LoggingAlertSink)
    clock: Clock = system_clock
    locks: NodeLocks = field(init=False)
    jobs: JobRunner = field(init=False)
    auth_failures: FailedAuthLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.locks = NodeLocks(self.storage.leases, self.instance_id, self.settings.node_lease_s)
        self.jobs = JobRunner(self.storage, lambda: self.clock(), self.instance_id)
        self.auth_failures = FailedAuthLimiter(self.settings.auth_failures_per_minute)

    async def refresh_health(self) -> ServiceMode:
        """Ping storage and read the cache state; record the result (and the mode gauge)."""
        try:
            timeout = max(5.0, self.settings.health_interval_s)
            self.storage_up = await asyncio.wait_for(self.storage.ping(), timeout=timeout)
        except TimeoutError:
            self.storage_up = False  # a ping that does not answer is an outage too
        sample_circuits(self.clients.circuit_states())
        return self.mode()

    def mode(self) -> ServiceMode:
        """The current degraded mode (from the last health refresh)."""
        return current_mode(self.storage_up, self.cache.degraded)
