"""The channel table's rows and its server-side sorting, filtering and paging (pure functions)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.domain.decision import DecisionKind
from app.domain.validation import Verdict
from app.errors import InvalidInputError

PER_PAGE = 100
# Column headers of the eight scores, short so the table fits a laptop screen (the full name is the tooltip).
SHORT_NAMES = {
    "centrality": "centr.",
    "liquidity": "liquid.",
    "activity": "activ.",
    "competitiveness": "compet.",
    "reliability": "reliab.",
    "age_stability": "age",
    "peer_quality": "peer",
    "network_position": "position",
}
MAX_QUERY_CHARS = 100
_SORT_NAME = re.compile(r"^[a-z_]{1,40}$")


@dataclass(frozen=True)
class ChannelRow:
    """One channel as the table shows it: its state now and the latest cycle's decision for it."""

    chan_id: str
    scid: str
    alias: str
    pubkey: str
    capacity_sat: int
    local_ratio: float
    active: bool
    fee_rate_ppm: int
    base_fee_msat: int
    total_score: float | None
    scores: dict[str, float | None] = field(default_factory=dict)
    decision_id: str | None = None
    kind: str | None = None
    status: str | None = None
    proposed_fee_ppm: int | None = None
    confidence: float | None = None
    verdict: str | None = None
    issues: tuple[str, ...] = ()

    @property
    def fee_changes(self) -> bool:
        """The decision would move the outbound fee rate."""
        return self.proposed_fee_ppm is not None and self.proposed_fee_ppm != self.fee_rate_ppm


# Sort keys of the fixed columns; each heuristic's name sorts by its score too.
_COLUMNS: dict[str, Callable[[ChannelRow], Any]] = {
    "chan": lambda row: int(row.chan_id),
    "alias": lambda row: row.alias.casefold() or None,
    "capacity": lambda row: row.capacity_sat,
    "ratio": lambda row: row.local_ratio,
    "fee": lambda row: row.fee_rate_ppm,
    "proposed": lambda row: row.proposed_fee_ppm,
    "decision": lambda row: row.kind,
    "confidence": lambda row: row.confidence,
    "score": lambda row: row.total_score,
    "verdict": lambda row: row.verdict,
}


@dataclass(frozen=True)
class TableQuery:
    """What the table was asked for: sort column and direction, filters and page."""

    sort: str = "capacity"
    descending: bool = True
    text: str = ""
    kind: str | None = None
    verdict: str | None = None
    page: int = 1

    def link(self, **changes: Any) -> dict[str, str]:
        """Query parameters of this table with some changed (for sort headers and paging links)."""
        merged = {
            "sort": self.sort,
            "dir": "desc" if self.descending else "asc",
            "q": self.text,
            "decision": self.kind or "",
            "verdict": self.verdict or "",
            "page": str(self.page),
        }
        merged.update({name: str(value) for name, value in changes.items()})
        return {name: value for name, value in merged.items() if value and (name, value) != ("page", "1")}

    def sort_link(self, column: str) -> dict[str, str]:
        """Sort by `column`; the same column again flips the direction; back to the first page."""
        descending = not self.descending if column == self.sort else column not in ("alias", "chan")
        return self.link(sort=column, dir="desc" if descending else "asc", page=1)


@dataclass(frozen=True)
class TableView:
    """One page of the sorted, filtered table."""

    rows: list[ChannelRow]
    matching: int
    total: int
    page: int
    pages: int


def parse_table_query(
    sort: str | None,
    direction: str | None,
    text: str | None,
    kind: str | None,
    verdict: str | None,
    page: str | None,
    heuristics: Sequence[str],
) -> TableQuery:
    """Check every parameter; anything unknown is a clear 422, never a silently different table."""
    column = sort or "capacity"
    if not _SORT_NAME.match(column) or (column not in _COLUMNS and column not in heuristics):
        raise InvalidInputError(
            f"cannot sort by {column[:40]!r}", {"sortable": sorted([*_COLUMNS, *heuristics])}
        )
    if direction not in (None, "", "asc", "desc"):
        raise InvalidInputError("dir must be asc or desc")
    if text is not None and len(text) > MAX_QUERY_CHARS:
        raise InvalidInputError(f"the search text is longer than {MAX_QUERY_CHARS} characters")
    kinds = {k.value for k in DecisionKind}
    if kind and kind not in kinds:
        raise InvalidInputError(f"unknown decision {kind[:40]!r}", {"allowed": sorted(kinds)})
    verdicts = {v.value for v in Verdict}
    if verdict and verdict not in verdicts:
        raise InvalidInputError(f"unknown verdict {verdict[:40]!r}", {"allowed": sorted(verdicts)})
    number = 1
    if page:
        if not page.isdigit() or len(page) > 6 or int(page) < 1:
            raise InvalidInputError("page must be a positive whole number")
        number = int(page)
    descending = direction == "desc" if direction else column not in ("alias", "chan")
    return TableQuery(column, descending, (text or "").strip(), kind or None, verdict or None, number)


def _matches(row: ChannelRow, query: TableQuery, needle: str) -> bool:
    if query.kind is not None and row.kind != query.kind:
        return False
    if query.verdict is not None and row.verdict != query.verdict:
        return False
    if needle:
        return (
            needle in row.alias.casefold()
            or needle in row.chan_id
            or needle in row.scid
            or needle in row.pubkey
        )
    return True


def table_view(rows: Sequence[ChannelRow], query: TableQuery, per_page: int = PER_PAGE) -> TableView:
    """Filter, sort (unknown values last in either direction, ties by chan_id) and cut one page."""
    needle = query.text.casefold()
    matching = [row for row in rows if _matches(row, query, needle)]
    column = _COLUMNS.get(query.sort)

    def value(row: ChannelRow) -> Any:
        return column(row) if column is not None else row.scores.get(query.sort)

    known = [row for row in matching if value(row) is not None]
    unknown = [row for row in matching if value(row) is None]
    known.sort(key=lambda row: int(row.chan_id))  # a stable tie-break under the sort below
    known.sort(key=value, reverse=query.descending)
    ordered = known + unknown
    pages = max(1, math.ceil(len(ordered) / per_page))
    page = min(query.page, pages)
    start = (page - 1) * per_page
    return TableView(ordered[start : start + per_page], len(ordered), len(rows), page, pages)
