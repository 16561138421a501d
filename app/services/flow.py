"""Fees earned and forwards per UTC day, counted by every sync from the forwarding history it reads anyway.

Stored as one metric sample per sync, so a page shows the node's recent flow without reading the node again
(two weeks of a large node's forwards take the better part of a second over LND's REST API).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from app.domain.forwarding import ForwardingEvent

FLOW_METRIC = "forwards.daily"
FLOW_DAYS = 14


@dataclass(frozen=True)
class DailyFlow:
    """Fees (msat) and forwards per UTC day, oldest day first; the last day is the sync's, so far."""

    first_day: date
    fees_msat: tuple[int, ...]
    forwards: tuple[int, ...]

    @property
    def days(self) -> list[date]:
        """The days counted, oldest first."""
        return [self.first_day + timedelta(days=n) for n in range(len(self.fees_msat))]

    def labels(self) -> dict[str, str]:
        """As a metric sample's labels (strings)."""
        return {
            "first_day": self.first_day.isoformat(),
            "fees_msat": ",".join(map(str, self.fees_msat)),
            "forwards": ",".join(map(str, self.forwards)),
        }

    @classmethod
    def from_labels(cls, labels: dict[str, str]) -> DailyFlow | None:
        """Back from a sample's labels; None when they do not hold a flow."""
        try:
            fees = tuple(int(value) for value in labels["fees_msat"].split(","))
            forwards = tuple(int(value) for value in labels["forwards"].split(","))
            first_day = date.fromisoformat(labels["first_day"])
        except (KeyError, ValueError):
            return None
        return cls(first_day, fees, forwards) if len(fees) == len(forwards) else None


def count_daily(events: Iterable[ForwardingEvent], now: datetime, read_since: datetime) -> DailyFlow:
    """The last FLOW_DAYS UTC days up to `now`'s, leaving out any day that began before the read did."""
    today = now.astimezone(UTC).date()
    first_day = today - timedelta(days=FLOW_DAYS - 1)
    earliest = read_since.astimezone(UTC)
    while (
        datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC) < earliest and first_day < today
    ):
        first_day += timedelta(days=1)  # a day the read saw only part of would show too little
    fees: Counter[date] = Counter()
    counts: Counter[date] = Counter()
    for event in events:
        day = datetime.fromtimestamp(event.timestamp_ns / 1e9, UTC).date()
        fees[day] += event.fee_msat
        counts[day] += 1
    days = [first_day + timedelta(days=n) for n in range((today - first_day).days + 1)]
    return DailyFlow(first_day, tuple(fees[day] for day in days), tuple(counts[day] for day in days))
