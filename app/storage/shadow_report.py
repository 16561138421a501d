"""The shadow report: what the optimizer would have written, per UTC day and per channel, and what was refused."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from pydantic import Field

from app.domain.base import DomainModel
from app.domain.decision import DecisionStatus
from app.domain.validation import Verdict
from app.storage.documents import PAGE_KEY, Document
from app.storage.fields import bson_utc, time_prefix
from app.storage.paging import check_limit

MAX_REPORT_DAYS = 366
REJECTED_BY_OPERATOR = "rejected_by_operator"
# Accepted by the gate: approved is where a shadow proposal stays; applied and rolled back were written.
WOULD_CHANGE = frozenset({DecisionStatus.APPROVED, DecisionStatus.APPLIED, DecisionStatus.ROLLED_BACK})
# What a report reads of each decision document (the projection of its query).
REPORT_FIELDS = ("chan_id", "kind", "status", "created_at", "validation")


class ShadowReport(DomainModel):
    """What the optimizer would have written for one node in a window, and apart from it what was refused.

    Counted per UTC day and per channel, every day of the window present (zeros included). Only proposals the
    validator accepted (or an operator approved) would have changed a policy; a refused one never would have.
    """

    since: datetime
    until: datetime
    total: int = Field(ge=0, description="proposals that would have changed a policy (accepted, not refused)")
    by_day: dict[date, int] = Field(description="would-have-changed proposals per UTC day")
    by_channel: dict[str, int] = Field(description="chan_id -> would-have-changed proposals, most first")
    by_day_and_channel: dict[date, dict[str, int]]
    by_kind: dict[str, int] = Field(description="would-have-changed proposals per decision kind")
    by_status: dict[str, int] = Field(
        description="every writing proposal of the window by status, refused included"
    )
    refused: int = Field(
        ge=0, description="proposals refused by a safety limit or an operator; not in `total`"
    )
    refused_by_code: dict[str, int] = Field(
        description="issue code -> refused proposals carrying it (one may carry several); "
        f"`{REJECTED_BY_OPERATOR}` when an operator refused a proposal the validator let through"
    )
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
    """Count projected decision documents (REPORT_FIELDS) into a report."""
    first, last = since.date(), until.date()
    by_day: dict[date, int] = {first + timedelta(days=n): 0 for n in range((last - first).days + 1)}
    by_channel: Counter[str] = Counter()
    by_day_and_channel: defaultdict[date, Counter[str]] = defaultdict(Counter)
    by_status: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    refused_by_code: Counter[str] = Counter()
    total = refused = 0
    for document in documents:
        status = DecisionStatus(document["status"])
        by_status[status.value] += 1
        if status is DecisionStatus.REJECTED:
            refused += 1
            refused_by_code.update(refusal_codes(document.get("validation")))
        if status not in WOULD_CHANGE:
            continue
        day = document["created_at"].date()
        chan_id = str(document["chan_id"])
        by_day[day] = by_day.get(day, 0) + 1
        by_channel[chan_id] += 1
        by_day_and_channel[day][chan_id] += 1
        by_kind[str(document["kind"])] += 1
        total += 1
    return ShadowReport(
        since=since,
        until=until,
        total=total,
        by_day=by_day,
        by_channel=dict(by_channel.most_common()),
        by_day_and_channel={day: dict(counts) for day, counts in sorted(by_day_and_channel.items())},
        by_kind=dict(by_kind),
        by_status=dict(by_status),
        refused=refused,
        refused_by_code=dict(refused_by_code.most_common()),
        truncated=truncated,
    )


def refusal_codes(validation: Document | None) -> set[str]:
    """The issue codes of a refused decision's stored verdict; an operator's refusal when none refused it."""
    if validation is None or validation.get("verdict") != Verdict.REJECTED.value:
        return {REJECTED_BY_OPERATOR}
    return {str(issue["code"]) for issue in validation.get("issues", [])} or {REJECTED_BY_OPERATOR}
