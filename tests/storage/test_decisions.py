"""Decisions: a real cycle stored and read back, filters, compare-and-set status, the shadow report."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from app.domain.decision import DecisionKind, DecisionStatus
from app.domain.execution import ExecutionMode
from app.engine.cycle import CycleReport
from app.errors import ConflictError, InvalidInputError, NotFoundError
from app.storage.database import Storage
from app.storage.records import DecisionRecord
from tests.storage import builders
from tests.storage.builders import T0


async def test_a_cycle_s_decisions_round_trip_exactly(storage: Storage, cycle_report: CycleReport):
    records = builders.decisions(cycle_report, "t1", "n1")
    assert await storage.decisions.add_many(records) == 35
    assert await storage.decisions.add_many([]) == 0
    for record in records:
        assert await storage.decisions.get("t1", record.id) == record
    page = await storage.decisions.list("t1", "n1", limit=100)
    assert page.items == sorted(records, key=lambda r: r.created_at, reverse=True)
    with pytest.raises(ConflictError):
        await storage.decisions.add_many(records[:1])
    with pytest.raises(NotFoundError):
        await storage.decisions.get("t1", "missing")


async def test_the_latest_cycle_s_summaries_carry_what_a_table_shows(
    storage: Storage, cycle_report: CycleReport
):
    older = builders.decisions(cycle_report, "t1", "n1", "c1")
    newer = [
        DecisionRecord.from_decision(
            tenant_id="t1",
            node_id="n1",
            cycle_id="c2",
            decision=r.decision,
            validation=r.validation,
            created_at=r.created_at + timedelta(hours=1),
        )
        for r in older
    ]
    await storage.decisions.add_many(older + newer + builders.decisions(cycle_report, "t2", "n1", "c3"))
    summaries = await storage.decisions.latest_cycle_summaries("t1", "n1")
    assert {s.cycle_id for s in summaries} == {"c2"} and len(summaries) == len(newer)
    by_id = {r.id: r for r in newer}
    for summary in summaries:
        record = by_id[summary.id]
        assert (summary.chan_id, summary.kind, summary.status) == (record.chan_id, record.kind, record.status)
        assert summary.proposed_fee_ppm == record.decision.proposed_policy.fee_rate_ppm
        assert summary.confidence == record.decision.confidence
        assert record.validation is not None and summary.verdict is record.validation.verdict
        assert summary.issue_codes == tuple(code.value for code in record.validation.codes)
    assert any(summary.issue_codes for summary in summaries)  # refused ones keep their codes
    assert await storage.decisions.latest_cycle_summaries("t1", "no-such-node") == []

    counts = await storage.decisions.latest_cycle_counts("t1", "n1")
    assert counts.kinds == dict(Counter(r.kind.value for r in newer).most_common())
    assert counts.statuses == dict(Counter(r.status.value for r in newer).most_common())
    assert list(counts.kinds.values()) == sorted(counts.kinds.values(), reverse=True)  # most common first
    assert sum(counts.kinds.values()) == len(newer) and len(counts.kinds) >= 2
    empty = await storage.decisions.latest_cycle_counts("t1", "no-such-node")
    assert (empty.kinds, empty.statuses) == ({}, {})


async def test_rejected_decisions_are_counted_by_issue_code_since_a_moment(
    storage: Storage, cycle_report: CycleReport
):
    records = builders.decisions(cycle_report, "t1", "n1")
    await storage.decisions.add_many(records + builders.decisions(cycle_report, "t1", "n2", "c2"))
    codes_of = {
        r.id: {c.value for c in r.validation.codes}
        for r in records
        if r.status is DecisionStatus.REJECTED and r.validation
    }
    rejected = [r for r in records if r.id in codes_of]
    codes = Counter(code for found in codes_of.values() for code in found)
    assert rejected and codes, "the test cycle has refused proposals"
    code, _ = codes.most_common(1)[0]
    having = [r for r in rejected if code in codes_of[r.id]]
    count = storage.decisions.rejected_with_codes_since
    assert await count("t1", "n1", T0, [code]) == len(having)
    assert await count("t1", "n1", T0, list(codes)) == len(rejected)  # each counted once, whatever its codes
    assert await count("t1", "n1", T0, ["no-such-code"]) == 0
    later = having[-1].created_at
    assert await count("t1", "n1", later, [code]) == 1  # the bound includes a decision made at that moment
    assert await count("t1", "n1", later + timedelta(milliseconds=1), [code]) == sum(
        1 for r in having if r.created_at > later
    )


async def test_list_filters_by_status_kind_cycle_and_node(storage: Storage, cycle_report: CycleReport):
    records = builders.decisions(cycle_report, "t1", "n1") + builders.decisions(
        cycle_report, "t1", "n2", "c2"
    )
    await storage.decisions.add_many(records)

    async def ids(**filters: Any) -> set[str]:
        """Ids listed with these filters (one page holds them all)."""
        page = await storage.decisions.list("t1", limit=500, **filters)
        return {record.id for record in page.items}

    def expected(predicate: Callable[[DecisionRecord], bool]) -> set[str]:
        """Ids of the stored records the predicate selects."""
        return {r.id for r in records if predicate(r)}

    assert await ids() == expected(lambda r: True)
    assert await ids(node_id="n2") == expected(lambda r: r.node_id == "n2")
    assert await ids(status=DecisionStatus.REJECTED) == expected(
        lambda r: r.status is DecisionStatus.REJECTED
    )
    assert await ids(kind=DecisionKind.HOLD, node_id="n1") == expected(
        lambda r: r.kind is DecisionKind.HOLD and r.node_id == "n1"
    )
    assert await ids(cycle_id="c2") == expected(lambda r: r.cycle_id == "c2")
    assert await ids(status=DecisionStatus.APPLIED) == set()


async def test_status_compare_and_set(storage: Storage, cycle_report: CycleReport):
    record = builders.decisions(cycle_report, "t1", "n1")[0].model_copy(
        update={"status": DecisionStatus.NEEDS_APPROVAL}
    )
    await storage.decisions.add_many([record])
    approved = await storage.decisions.set_status(
        "t1", record.id, DecisionStatus.NEEDS_APPROVAL, DecisionStatus.APPROVED, "key-1", now=T0
    )
    assert (
        approved.status is DecisionStatus.APPROVED
        and approved.decided_by == "key-1"
        and approved.decided_at == T0
    )
    assert await storage.decisions.get("t1", record.id) == approved
    with pytest.raises(ConflictError) as caught:
        await storage.decisions.set_status(
            "t1", record.id, DecisionStatus.NEEDS_APPROVAL, DecisionStatus.REJECTED, "k2"
        )
    assert caught.value.details["status"] == "approved"
    with pytest.raises(NotFoundError):
        await storage.decisions.set_status(
            "t1", "missing", DecisionStatus.PROPOSED, DecisionStatus.APPROVED, "k"
        )


async def test_racing_approve_and_reject_exactly_one_wins(
    storage: Storage, second_client: Storage, cycle_report
):
    record = builders.decisions(cycle_report, "t1", "n1")[0].model_copy(
        update={"status": DecisionStatus.NEEDS_APPROVAL}
    )
    await storage.decisions.add_many([record])
    attempts = [
        (replica.decisions.set_status("t1", record.id, DecisionStatus.NEEDS_APPROVAL, target, f"key-{n}"))
        for n in range(10)
        for replica, target in [(storage, DecisionStatus.APPROVED), (second_client, DecisionStatus.REJECTED)]
    ]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    winners = [result for result in results if not isinstance(result, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(result, ConflictError) for result in results if result is not winners[0])
    assert await storage.decisions.get("t1", record.id) == winners[0]


async def test_shadow_report_counts_accepted_proposals_per_day_and_channel_and_refused_ones_apart(
    storage: Storage, cycle_report
):
    now = T0 + timedelta(days=2)
    day_one = builders.decisions(cycle_report, "t1", "n1", "c1")
    day_two = [
        r.model_copy(update={"id": f"{r.id}-2", "created_at": r.created_at + timedelta(days=1)})
        for r in day_one
    ]
    too_old = [
        r.model_copy(update={"id": f"{r.id}-old", "created_at": r.created_at - timedelta(days=30)})
        for r in day_one
    ]
    live = [r.model_copy(update={"id": f"{r.id}-live", "mode": ExecutionMode.LIVE}) for r in day_one]
    other_node = builders.decisions(cycle_report, "t1", "n2")
    await storage.decisions.add_many(day_one + day_two + too_old + live + other_node)
    writing = [r for r in day_one if r.kind.writes_policy]
    accepted = [r for r in writing if r.status is DecisionStatus.APPROVED]
    refused = [r for r in writing if r.status is DecisionStatus.REJECTED]
    assert accepted and refused  # the real cycle has both: the daily cap refuses most of its proposals
    report = await storage.decisions.shadow_report("t1", "n1", days=7, now=now)
    # Refused proposals would never have changed anything: they are counted apart, with their codes.
    assert report.total == 2 * len(accepted) and not report.truncated
    assert report.refused == 2 * len(refused)
    codes = Counter(code.value for r in refused for code in set(r.validation.codes))  # type: ignore[union-attr]
    assert report.refused_by_code == {code: 2 * count for code, count in codes.items()}
    assert report.by_day[date(2026, 3, 1)] == report.by_day[date(2026, 3, 2)] == len(accepted)
    assert report.by_day[date(2026, 2, 25)] == report.by_day[date(2026, 3, 3)] == 0
    assert len(report.by_day) == 8
    assert report.by_channel == {chan: 2 * n for chan, n in Counter(r.chan_id for r in accepted).items()}
    assert report.by_day_and_channel[date(2026, 3, 1)] == dict(Counter(r.chan_id for r in accepted))
    assert set(report.by_kind) == {r.kind.value for r in accepted}
    assert DecisionKind.HOLD.value not in report.by_kind
    assert sum(report.by_status.values()) == 2 * len(writing)
    assert report.by_status[DecisionStatus.REJECTED.value] == report.refused
    for shift_ms in (0, 5, 20, 40):  # the window's start is exact to the millisecond
        end = now + timedelta(milliseconds=shift_ms)
        inside = [
            r
            for r in day_two
            if r.status is DecisionStatus.APPROVED and r.created_at >= end - timedelta(days=1)
        ]
        assert (await storage.decisions.shadow_report("t1", "n1", days=1, now=end)).total == len(inside)
    live_report = await storage.decisions.shadow_report("t1", "n1", days=7, now=now, mode=ExecutionMode.LIVE)
    assert (live_report.total, live_report.refused) == (len(accepted), len(refused))
    with pytest.raises(InvalidInputError):
        await storage.decisions.shadow_report("t1", "n1", days=0)
