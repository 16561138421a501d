"""Balance history of nodes without forwarding history: last balances per node and the moves between syncs."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field
from pymongo import ASCENDING

from app.domain.balance import BalanceInterval
from app.domain.base import ChannelId, DomainModel
from app.storage.base import CollectionName, Repository, scoped
from app.storage.documents import PAGE_KEY, from_document
from app.storage.errors import translate_errors
from app.storage.execution_records import NodeDocument
from app.storage.fields import RecordId, UtcDatetime, bson_utc, new_id, time_prefix
from app.storage.per_node import PerNodeRepository

# Longer than the longest activity window a profile may set (365 days would be unusual; 120 covers 90).
BALANCE_MOVES_TTL = timedelta(days=120)
MAX_MOVES_READ = 100_000  # a sync every 2 minutes for 120 days stays below this


class BalanceStateRecord(NodeDocument):
    """Each channel's local balance at the node's last sync, to compare the next one with."""

    taken_at_s: int = Field(default=0, ge=0)
    balances_sat: dict[ChannelId, int] = Field(default_factory=dict)


class BalanceMovesRecord(DomainModel):
    """The balance changes between two consecutive syncs of a node (non-zero moves only, in sat)."""

    id: RecordId = Field(default_factory=new_id)
    tenant_id: RecordId
    node_id: RecordId
    taken_at: UtcDatetime
    previous_s: int = Field(ge=0)
    moves_sat: dict[ChannelId, int] = Field(default_factory=dict)

    def interval(self) -> BalanceInterval:
        """As the engine reads it."""
        return BalanceInterval(self.previous_s, int(self.taken_at.timestamp()), self.moves_sat)


class BalanceStateRepository(PerNodeRepository[BalanceStateRecord]):
    """The last balances of every channel of a node."""

    collection_name = CollectionName.BALANCE_STATES
    model = BalanceStateRecord


class BalanceMovesRepository(Repository):
    """One record per sync of a node without forwarding history; expired after BALANCE_MOVES_TTL."""

    collection_name = CollectionName.BALANCE_MOVES

    @translate_errors
    async def add(self, record: BalanceMovesRecord) -> None:
        """Store one interval."""
        await self._insert_many([record], time_field="taken_at")

    @translate_errors
    async def since(self, tenant_id: str, node_id: str, since: datetime) -> list[BalanceInterval]:
        """Intervals that ended at or after `since`, oldest first."""
        query = scoped(tenant_id, node_id=node_id)
        query[PAGE_KEY] = {"$gte": time_prefix(bson_utc(since))}
        cursor = self._collection.find(query).sort(PAGE_KEY, ASCENDING).limit(MAX_MOVES_READ)
        return [from_document(BalanceMovesRecord, document).interval() for document in await cursor.to_list()]
