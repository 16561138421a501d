"""One versioned document per node (rollout, budget, policy state), changed only by compare-and-set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar, cast

from pymongo.errors import DuplicateKeyError

from app.errors import ConflictError
from app.storage.base import Repository, scoped
from app.storage.documents import from_document, to_document
from app.storage.errors import translate_errors
from app.storage.execution_records import NodeDocument

# Enough for any realistic contention (a handful of writers per node); more means a bug loops.
MAX_ATTEMPTS = 50


RecordT = TypeVar("RecordT", bound=NodeDocument)


class PerNodeRepository(Repository, Generic[RecordT]):
    """Load (a default when absent) and change a node's document by compare-and-set, retrying on races."""

    model: type[NodeDocument]

    @translate_errors
    async def load(self, tenant_id: str, node_id: str) -> RecordT:
        """The node's document, or a fresh default (version 0, not stored yet)."""
        key = NodeDocument.key(tenant_id, node_id)
        document = await self._collection.find_one(scoped(tenant_id, _id=key))
        if document is None:
            return cast(RecordT, self.model(id=key, tenant_id=tenant_id, node_id=node_id, version=0))
        return cast(RecordT, from_document(self.model, document))

    @translate_errors
    async def save(self, old: RecordT, new: RecordT) -> bool:
        """Write `new` if the stored document is still `old` (created when `old` was a default)."""
        updated = new.model_copy(update={"version": old.version + 1})
        if old.version == 0:
            try:
                await self._collection.insert_one(to_document(updated))
            except DuplicateKeyError:
                return False
            return True
        query = scoped(old.tenant_id, _id=old.id, version=old.version)
        return await self._replace_if(query, updated)

    async def change(
        self, tenant_id: str, node_id: str, mutate: Callable[[RecordT], RecordT | None]
    ) -> RecordT:
        """Apply `mutate` to the current document and save it, again from a fresh read after a race.

        `mutate` returns the new record, or None to leave the document as it is; it may run more than once.
        """
        for _ in range(MAX_ATTEMPTS):
            current = await self.load(tenant_id, node_id)
            new = mutate(current)
            if new is None:
                return current
            if await self.save(current, new):
                return new.model_copy(update={"version": current.version + 1})
        raise ConflictError(
            f"{self.collection_name.value} of node {node_id} kept changing; gave up after {MAX_ATTEMPTS} tries",
            {"node_id": node_id},
        )

    @translate_errors
    async def delete(self, tenant_id: str, node_id: str) -> None:
        """Forget the node's document (the node was removed)."""
        await self._collection.delete_one(scoped(tenant_id, _id=NodeDocument.key(tenant_id, node_id)))
