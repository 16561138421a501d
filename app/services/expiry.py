"""Decisions nobody acted on expire after their maximum age, even when no newer cycle supersedes them."""

from __future__ import annotations

from datetime import timedelta

from app.domain.decision import DecisionStatus
from app.domain.execution import ExecutionMode
from app.services.fleet import every_node
from app.services.runtime import ServiceRuntime


class DecisionExpiry:
    """Marks old waiting decisions `expired`, so a list of pending approvals never shows stale ones."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def run_once(self) -> int:
        """Expire, on every node, waiting decisions older than the maximum age; returns how many."""
        runtime = self.runtime
        cutoff = runtime.clock() - timedelta(hours=runtime.settings.decision_max_age_hours)
        expired = 0
        async for node in every_node(runtime.storage):
            decisions = runtime.storage.decisions
            expired += await decisions.expire_pending(
                node.tenant_id, node.id, [DecisionStatus.NEEDS_APPROVAL], older_than=cutoff
            )
            # Approved decisions of shadow cycles are the record of what would have been written: kept.
            expired += await decisions.expire_pending(
                node.tenant_id,
                node.id,
                [DecisionStatus.APPROVED],
                modes=[ExecutionMode.CANARY, ExecutionMode.LIVE],
                older_than=cutoff,
            )
        return expired
