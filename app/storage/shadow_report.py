"""The shadow report: what the optimizer would have written, counted per UTC day and per channel."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from pydantic import Field

from app.domain.base import DomainModel
from app.storage.documents import PAGE_KEY, Document
from app.storage.fields import bson_utc, time_prefix
from app.storage.paging import check_limit

MAX_REPORT_DAYS = 366


class ShadowReport(DomainModel):
    """Writing proposals of one node in a window; every day of the window appears, zeros included."""

    since: datetime
    until: datetime
    total: int = Field(ge=0)
    by_day: dict[date, int]
    by_channel: dict[str, int] = Field(description="chan_id -> count, most proposals first")
    by_day_and_channel: dict[date, dict[str, int]]
    by_status: dict[str, int]
    by_kind: dict[str, int]
    truncated: bool = Field(description="the window held more decisions than one report reads")


def report_window(days: int, now: datetime) -> tuple[datetime, datetime, Document]:
    """(since, until, page-key bounds) of the last `days` days up to and including `now`."""
    check_limit(days, maximum=MAX_REPORT_DAYS, field="days")
    until = bson_utc(now)
    since = until - timedelta(days=days)
    bounds = {"$gte": time_prefix(since), "$lt": time_prefix(until + timedelta(milliseconds=1))}
    return since, until, {PAGE_KEY: bounds}


def summarize(
    documents: Iterable[Document], *, since: datetime, until: datetime, truncated: bool
) -> ShadowReport:
    """Count projected decision documents (chan_id, kind, status, created_at) into a report."""
    first, last = since.date(), until.date()
    by_day: dict[date, int] = {first + timedelta(days=n): 0 for n in range((last - first).days + 1)}
    by_channel: Counter[str] = Counter()
    by_day_and_channel: defaultdict[date, Counter[str]] = defaultdict(Counter)
    by_status: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    total = 0
    for document in documents:
        day = document["created_at"].date()
        chan_id = str(document["chan_id"])
        by_day[day] = by_day.get(day, 0) + 1
        by_channel[chan_id] += 1
        by_day_and_channel[day][chan_id] += 1
        by_status[str(document["status"])] += 1
        by_kind[str(document["kind"])] += 1
        total += 1
    return ShadowReport(
        since=since,
        until=until,
        total=total,
        by_day=by_day,
        by_channel=dict(by_channel.most_common()),
        by_day_and_channel={day: dict(counts) for day, counts in sorted(by_day_and_channel.items())},
        by_status=dict(by_status),
        by_kind=dict(by_kind),
        truncated=truncated,
    )
