"""Decisions of every cycle: stored in bulk, listed with filters, moved through their life cycle by CAS."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.domain.decision import DecisionKind, DecisionStatus
from app.domain.execution import ExecutionMode
from app.domain.validation import Verdict
from app.errors import ConflictError, NotFoundError
from app.storage.base import CollectionName, Repository, scoped
from app.storage.documents import PAGE_KEY, Document, from_document, to_document
from app.storage.errors import translate_errors
from app.storage.fields import bson_utc, time_prefix, utc_now
from app.storage.paging import DEFAULT_PAGE_SIZE, Page, fetch_page
from app.storage.records import DecisionRecord
from app.storage.shadow_report import REPORT_FIELDS, ShadowReport, report_window, summarize

# The fields a table shows, projected in an aggregation (MongoDB and nx-27017 both evaluate these paths on
# the server and send nothing else; a `find` with a projection made nx-27017 decode every whole record).
SUMMARY_FIELDS: Document = {
    "_id": 1,
    "cycle_id": 1,
    "chan_id": 1,
    "kind": 1,
    "status": 1,
    "proposed_fee_ppm": "$decision.proposed_policy.fee_rate_ppm",
    "confidence": "$decision.confidence",
    "verdict": "$validation.verdict",
    "issues": "$validation.issues",
}


@dataclass(frozen=True, slots=True)
class DecisionSummary:
    """One decision as a table lists it."""

    id: str
    cycle_id: str
    chan_id: str
    kind: DecisionKind
    status: DecisionStatus
    proposed_fee_ppm: int
    confidence: float
    verdict: Verdict | None
    issue_codes: tuple[str, ...]

    @classmethod
    def of(cls, document: Document) -> DecisionSummary:
        """From a decision document projected with SUMMARY_FIELDS (no validation: no verdict, no codes)."""
        verdict = document.get("verdict")
        return cls(
            id=document["_id"],
            cycle_id=document["cycle_id"],
            chan_id=document["chan_id"],
            kind=DecisionKind(document["kind"]),
            status=DecisionStatus(document["status"]),
            proposed_fee_ppm=document["proposed_fee_ppm"],
            confidence=document["confidence"],
            verdict=Verdict(verdict) if verdict else None,
            issue_codes=tuple(issue["code"] for issue in document.get("issues") or ()),
        )


@dataclass(frozen=True)
class DecisionCounts:
    """How many of a cycle's decisions are of each kind and in each status, most common first."""

    kinds: dict[str, int]
    statuses: dict[str, int]


MAX_REPORT_DECISIONS = 200_000
WRITING_KINDS = tuple(kind.value for kind in DecisionKind if kind.writes_policy)


def _decision(document: Document) -> DecisionRecord:
    return from_document(DecisionRecord, document)


class DecisionRepository(Repository):
    """Insert a cycle's decisions, read and list them, change their status atomically, report on them."""

    collection_name = CollectionName.DECISIONS

    @translate_errors
    async def add_many(self, records: Sequence[DecisionRecord]) -> int:
        """Insert the decisions of one cycle in one round trip; returns how many were stored."""
        return await self._insert_many(records, time_field="created_at")

    @translate_errors
    async def get(self, tenant_id: str, decision_id: str) -> DecisionRecord:
        """One decision of the tenant; NotFoundError when absent (or another tenant's)."""
        missing = NotFoundError(f"decision {decision_id} not found", {"decision_id": decision_id})
        return await self._get_or_raise(scoped(tenant_id, _id=decision_id), _decision, missing)

    @translate_errors
    async def set_status(
        self,
        tenant_id: str,
        decision_id: str,
        expected_status: DecisionStatus,
        new_status: DecisionStatus,
        actor: str,
        *,
        now: datetime | None = None,
    ) -> DecisionRecord:
        """Move the decision from `expected_status` to `new_status` by compare-and-set on one document.

        The replacement is written only if the stored status is still `expected_status` (it is in the
        filter), so of two racing approve/reject calls exactly one wins; the other gets ConflictError
        naming the status it found.
        """
        current = await self.get(tenant_id, decision_id)  # NotFoundError when it does not exist
        if current.status is expected_status:
            changes = {"status": new_status, "decided_by": actor, "decided_at": bson_utc(now or utc_now())}
            updated = current.model_copy(update=changes)
            query = scoped(tenant_id, _id=decision_id, status=expected_status.value)
            result = await self._collection.replace_one(query, to_document(updated, time_field="created_at"))
            if result.matched_count == 1:
                return updated
            current = await self.get(tenant_id, decision_id)
        raise ConflictError(
            f"decision {decision_id} is {current.status.value}, not {expected_status.value}",
            {"decision_id": decision_id, "status": current.status.value, "expected": expected_status.value},
        )

    @translate_errors
    async def settle(
        self,
        tenant_id: str,
        decision_id: str,
        expected: frozenset[DecisionStatus],
        new_status: DecisionStatus,
        **changes: object,
    ) -> bool:
        """Move a decision to `new_status` if it is in one of `expected` (idempotent; False when it was not)."""
        document = await self._collection.find_one(scoped(tenant_id, _id=decision_id))
        if document is None:
            return False
        current = _decision(document)
        if current.status not in expected:
            return False
        updated = current.model_copy(update={"status": new_status, **changes})
        query = scoped(tenant_id, _id=decision_id, status=current.status.value)
        return await self._replace_if(query, updated, time_field="created_at")

    @translate_errors
    async def expire_pending(
        self,
        tenant_id: str,
        node_id: str,
        statuses: Sequence[DecisionStatus],
        *,
        modes: Sequence[ExecutionMode] | None = None,
        keep_cycle: str | None = None,
        older_than: datetime | None = None,
    ) -> int:
        """Mark the node's decisions in `statuses` (of `modes`) expired: all but `keep_cycle`'s, or older ones."""
        query = scoped(tenant_id, node_id=node_id)
        query["status"] = {"$in": [status.value for status in statuses]}
        if modes is not None:
            query["mode"] = {"$in": [mode.value for mode in modes]}
        if keep_cycle is not None:
            query["cycle_id"] = {"$ne": keep_cycle}
        if older_than is not None:
            query[PAGE_KEY] = {"$lt": time_prefix(bson_utc(older_than))}
        result = await self._collection.update_many(query, {"$set": {"status": DecisionStatus.EXPIRED.value}})
        return int(result.modified_count)

    @translate_errors
    async def rejected_with_codes_since(
        self, tenant_id: str, node_id: str, since: datetime, codes: Iterable[str]
    ) -> int:
        """How many of the node's decisions made at or after `since` were rejected with any of `codes`."""
        query = scoped(tenant_id, node_id=node_id, status=DecisionStatus.REJECTED.value)
        query[PAGE_KEY] = {"$gte": time_prefix(bson_utc(since))}
        wanted = frozenset(codes)
        # Only the issues travel; an issue's code is matched here (nx-27017 cannot match inside an array).
        documents = await self._aggregate(
            [
                {"$match": query},
                {"$sort": {PAGE_KEY: 1}},
                {"$limit": MAX_REPORT_DECISIONS},  # bounds the read: the oldest 200,000 of a very long stage
                {"$project": {"_id": 0, "issues": "$validation.issues"}},
            ]
        )
        return sum(1 for d in documents if any(issue["code"] in wanted for issue in d.get("issues") or ()))

    @translate_errors
    async def shadow_report(
        self,
        tenant_id: str,
        node_id: str,
        *,
        days: int = 7,
        now: datetime | None = None,
        mode: ExecutionMode = ExecutionMode.SHADOW,
    ) -> ShadowReport:
        """Writing proposals (fee, inbound discount, max HTLC) that would have changed a policy, and the refused.

        Summed in Python over one bounded, projected query rather than an aggregation pipeline:
        nx-27017 returns `$group` keys built from expressions (`$dateToString`) unevaluated, and runs a `$match`
        with `$in` in Python (8x slower than this `find`).
        """
        since, until, query_bounds = report_window(days, now or utc_now())
        query = scoped(tenant_id, node_id=node_id, mode=mode.value)
        query["kind"] = {"$in": list(WRITING_KINDS)}
        query.update(query_bounds)
        projection = {"_id": 0, **dict.fromkeys(REPORT_FIELDS, 1)}
        cursor = self._collection.find(query, projection).limit(MAX_REPORT_DECISIONS + 1)
        documents = await cursor.to_list()
        truncated = len(documents) > MAX_REPORT_DECISIONS
        return summarize(documents[:MAX_REPORT_DECISIONS], since=since, until=until, truncated=truncated)

    @translate_errors
    async def latest_cycle_summaries(self, tenant_id: str, node_id: str) -> list[DecisionSummary]:
        """The newest cycle's decisions of a node, as much of each as a table shows.

        Loading 1,989 full records as validated models (the breakdown is two thirds of one) took the
        dashboard's first view of ACINQ 2-3 s under load; a projection in a `find` still took a second.
        """
        query = await self._latest_cycle_query(tenant_id, node_id)
        if query is None:
            return []
        documents = await self._aggregate([{"$match": query}, {"$project": SUMMARY_FIELDS}])
        return [DecisionSummary.of(document) for document in documents]

    @translate_errors
    async def latest_cycle_counts(self, tenant_id: str, node_id: str) -> DecisionCounts:
        """How many of the newest cycle's decisions are of each kind and in each status (counted on the server)."""
        query = await self._latest_cycle_query(tenant_id, node_id)
        if query is None:
            return DecisionCounts({}, {})

        async def count(field: str) -> dict[str, int]:
            groups = await self._aggregate(
                [{"$match": query}, {"$group": {"_id": f"${field}", "n": {"$sum": 1}}}]
            )
            ordered = sorted(groups, key=lambda group: (-group["n"], group["_id"]))
            return {group["_id"]: group["n"] for group in ordered}

        return DecisionCounts(kinds=await count("kind"), statuses=await count("status"))

    async def _latest_cycle_query(self, tenant_id: str, node_id: str) -> Document | None:
        """The filter selecting the node's newest cycle's decisions; None when it has none."""
        query = scoped(tenant_id, node_id=node_id)
        newest = await self._collection.find(query, {"cycle_id": 1}).sort(PAGE_KEY, -1).limit(1).to_list()
        if not newest:
            return None
        return {**query, "cycle_id": newest[0]["cycle_id"]}

    @translate_errors
    async def list(
        self,
        tenant_id: str,
        node_id: str | None = None,
        *,
        status: DecisionStatus | None = None,
        kind: DecisionKind | None = None,
        cycle_id: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[DecisionRecord]:
        """The tenant's decisions (of one node when given), newest first, filtered by status/kind/cycle."""
        # StrEnums go into BSON as their string value; scoped() drops the filters left as None.
        query = scoped(tenant_id, node_id=node_id, status=status, kind=kind, cycle_id=cycle_id)
        return await fetch_page(self._collection, query, _decision, limit=limit, cursor=cursor)
