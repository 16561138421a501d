"""Fees and forwards per UTC day: counted from forwards, stored as labels, read back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from app.domain.forwarding import ForwardingEvent
from app.services.flow import FLOW_DAYS, DailyFlow, count_daily

NOW = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)


def forward(at: datetime, fee_msat: int) -> ForwardingEvent:
    """A forward settled at `at` that earned `fee_msat`."""
    return ForwardingEvent(
        timestamp_ns=int(at.timestamp() * 1e9),
        chan_id_in="880000000000000001",
        chan_id_out="880000000000000002",
        amt_in_msat=1_000_000 + fee_msat,
        amt_out_msat=1_000_000,
        fee_msat=fee_msat,
    )


def test_forwards_are_counted_on_the_utc_day_they_settled():
    events = [
        forward(NOW, 1_500),
        forward(NOW.replace(hour=0, minute=0), 500),  # today's first second
        forward(NOW.replace(hour=0, minute=0) - timedelta(seconds=1), 7_000),  # yesterday's last
        forward(NOW - timedelta(days=13), 42),  # the oldest day shown
        forward(NOW - timedelta(days=14), 99_000),  # one day too old
    ]
    flow = count_daily(events, NOW, NOW - timedelta(days=30))
    assert flow.first_day == date(2026, 11, 17) and len(flow.days) == FLOW_DAYS
    assert flow.days[-1] == date(2026, 11, 30)
    assert flow.fees_msat[-1] == 2_000 and flow.forwards[-1] == 2
    assert flow.fees_msat[-2] == 7_000 and flow.forwards[-2] == 1
    assert flow.fees_msat[0] == 42 and flow.forwards[0] == 1
    assert sum(flow.fees_msat) == 9_042 and sum(flow.forwards) == 4


def test_a_day_the_read_saw_only_part_of_is_left_out():
    flow = count_daily([forward(NOW - timedelta(days=5), 10)], NOW, NOW - timedelta(days=7))
    # The read began on 11-23 at 15:30: that day is partial, so the chart starts the day after.
    assert flow.first_day == date(2026, 11, 24) and len(flow.days) == 7
    assert flow.forwards == (0, 1, 0, 0, 0, 0, 0)
    today_only = count_daily([], NOW, NOW - timedelta(hours=1))
    assert today_only.days == [date(2026, 11, 30)] and today_only.fees_msat == (0,)


def test_labels_round_trip_and_anything_else_reads_as_no_flow():
    flow = count_daily([forward(NOW, 1_234)], NOW, NOW - timedelta(days=30))
    labels = flow.labels()
    assert all(isinstance(value, str) for value in labels.values())
    assert DailyFlow.from_labels(labels) == flow
    assert DailyFlow.from_labels({}) is None
    assert DailyFlow.from_labels({**labels, "fees_msat": "1,x"}) is None
    assert DailyFlow.from_labels({**labels, "forwards": "1"}) is None  # lengths differ
    assert DailyFlow.from_labels({**labels, "first_day": "yesterday"}) is None
