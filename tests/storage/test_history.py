"""Channel snapshots, policy history and metrics: round trips, latest, ranges, int64 amounts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bson.decimal128 import Decimal128

from app.domain.policy import PolicySource
from app.engine.cycle import CycleReport
from app.errors import InvalidInputError
from app.storage.database import Storage
from app.storage.fields import utc_now
from tests.storage import builders
from tests.storage.builders import BIG_MSAT, T0


async def test_snapshots_of_a_real_cycle_round_trip(storage: Storage, cycle_report: CycleReport):
    records = builders.snapshots(cycle_report, "t1", "n1")
    assert await storage.channels.add_many(records) == len(records) == 35
    assert await storage.channels.add_many([]) == 0
    by_channel = {record.channel_id: record for record in records}
    assert {r.channel_id: r for r in await storage.channels.for_cycle("t1", "n1", "c1")} == by_channel
    first = records[0]
    assert await storage.channels.latest("t1", "n1", first.channel_id) == first
    later = first.model_copy(update={"id": "later", "taken_at": T0 + timedelta(hours=1), "cycle_id": "c2"})
    await storage.channels.add_many([later])
    assert await storage.channels.latest("t1", "n1", first.channel_id) == later
    history = await storage.channels.history("t1", "n1", first.channel_id)
    assert history.items == [later, first] and history.next_cursor is None
    assert (await storage.channels.list("t1", "n1", limit=36)).items[0] == later
    assert await storage.channels.latest("t1", "n1", "1") is None


async def test_policy_history_latest_and_daily_count(storage: Storage):
    channel = "880000000000000001"
    for hours, source in [(0, PolicySource.OBSERVED), (1, PolicySource.APPLIED), (2, PolicySource.MANUAL)]:
        await storage.policies.add(builders.policy("t1", "n1", channel, T0 + timedelta(hours=hours), source))
    await storage.policies.add(builders.policy("t1", "n1", "880000000000000002", T0 + timedelta(hours=3)))
    latest = await storage.policies.latest("t1", "n1", channel)
    assert latest is not None and latest.source is PolicySource.MANUAL
    applied = await storage.policies.latest("t1", "n1", channel, source=PolicySource.APPLIED)
    assert applied is not None and applied.applied_at == T0 + timedelta(hours=1)
    assert applied.policy.max_htlc_msat == BIG_MSAT
    assert await storage.policies.count_since("t1", "n1", T0) == 2
    # Exact to the millisecond (nx-27017 alone would compare these dates by the second).
    assert await storage.policies.count_since("t1", "n1", T0 + timedelta(hours=1)) == 2
    assert await storage.policies.count_since("t1", "n1", T0 + timedelta(hours=1, milliseconds=1)) == 1
    since_first_change = await storage.policies.node_history("t1", "n1", since=T0 + timedelta(hours=1))
    assert [(r.channel_id, r.applied_at) for r in since_first_change] == [
        (channel, T0 + timedelta(hours=1)),
        (channel, T0 + timedelta(hours=2)),
        ("880000000000000002", T0 + timedelta(hours=3)),
    ]
    assert len(await storage.policies.node_history("t1", "n1", since=T0, limit=2)) == 2
    with pytest.raises(InvalidInputError):
        await storage.policies.node_history("t1", "n1", since=T0, limit=0)
    page = await storage.policies.history("t1", "n1", channel, source=PolicySource.OBSERVED)
    assert [entry.source for entry in page.items] == [PolicySource.OBSERVED]
    assert len((await storage.policies.history("t1", "n1", channel)).items) == 3


async def test_metric_series_bounds_are_exact_to_the_millisecond(storage: Storage):
    # Recent samples: the TTL index expires anything older than 30 days (nx-27017 even on read).
    start = utc_now().replace(microsecond=0) - timedelta(hours=1)
    points = [
        builders.metric("t1", "n1", start + timedelta(milliseconds=250 * n), float(n)) for n in range(12)
    ]
    points.append(builders.metric("t1", "n1", start, 99.0, name="fees_earned_msat"))
    assert await storage.metrics.record(points) == 13
    assert await storage.metrics.record([]) == 0
    since, until = start + timedelta(milliseconds=250), start + timedelta(seconds=1)
    window = await storage.metrics.series("t1", "n1", "local_balance_sat", since=since, until=until)
    assert [point.value for point in window] == [1.0, 2.0, 3.0]  # 1000 ms is excluded, 250 ms included
    everything = await storage.metrics.series("t1", "n1", "local_balance_sat", since=start)
    assert [point.value for point in everything] == [float(n) for n in range(12)]
    assert len(await storage.metrics.series("t1", "n1", "local_balance_sat", since=start, limit=5)) == 5
    latest = await storage.metrics.latest("t1", "n1", "local_balance_sat")
    assert latest == points[11]
    assert await storage.metrics.latest("t1", "n1", "unknown") is None
    with pytest.raises(InvalidInputError):
        await storage.metrics.series("t1", "n1", "x", since=start, limit=0)
    recent = await storage.metrics.recent("t1", "n1", "local_balance_sat", 3)
    assert [point.value for point in recent] == [9.0, 10.0, 11.0]  # the newest three, oldest first
    assert await storage.metrics.recent("t1", "n1", "unknown", 3) == []
    counted = await storage.metrics.count("t1", "n1", "local_balance_sat", since=since, until=until)
    assert counted == 3  # the same bounds as the series, counted on the server
    assert await storage.metrics.count("t1", "n1", "local_balance_sat", since=start, until=utc_now()) == 12
    assert await storage.metrics.count("t1", "n2", "local_balance_sat", since=start, until=utc_now()) == 0
    with pytest.raises(InvalidInputError):
        await storage.metrics.recent("t1", "n1", "x", 0)


async def test_amounts_above_int32_are_stored_as_int64(storage: Storage, cycle_report: CycleReport):
    huge = 2**62 + 1  # not representable as a double: a float on the way would lose the +1
    record = builders.policy("t1", "n1", "880000000000000001", T0)
    record = record.model_copy(update={"policy": record.policy.model_copy(update={"max_htlc_msat": huge})})
    await storage.policies.add(record)
    raw = await storage.database["policies"].find_one({"_id": record.id})
    assert raw is not None
    for value in (raw["policy"]["max_htlc_msat"], raw["policy"]["base_fee_msat"]):
        assert isinstance(value, int) and not isinstance(value, float | Decimal128 | bool)
    assert raw["policy"]["max_htlc_msat"] == huge
    loaded = await storage.policies.latest("t1", "n1", "880000000000000001")
    assert (
        loaded is not None
        and loaded.policy.max_htlc_msat == huge
        and type(loaded.policy.max_htlc_msat) is int
    )
    snapshot = builders.snapshots(cycle_report, "t1", "n1")[0]
    await storage.channels.add_many([snapshot])
    raw_snapshot = await storage.database["channel_snapshots"].find_one({"_id": snapshot.id})
    assert raw_snapshot is not None and isinstance(raw_snapshot["channel"]["capacity_sat"], int)
    assert (
        raw_snapshot["channel"]["local_policy"]["max_htlc_msat"]
        == snapshot.channel.local_policy.max_htlc_msat
    )
