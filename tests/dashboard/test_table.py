"""The channel table's server-side sorting, filtering and paging, and its parameter checks."""

from __future__ import annotations

import pytest

from app.dashboard.table import ChannelRow, TableQuery, parse_table_query, table_view
from app.errors import InvalidInputError

HEURISTICS = ["liquidity", "activity"]


def row(
    chan_id: int, alias: str, capacity: int, fee: int, kind: str | None, liquidity: float | None
) -> ChannelRow:
    """A row with the fields the tests sort and filter on."""
    return ChannelRow(
        chan_id=str(chan_id),
        scid=f"{chan_id}x0x0",
        alias=alias,
        pubkey=f"02{chan_id:064x}"[:66],
        capacity_sat=capacity,
        local_ratio=0.5,
        active=True,
        fee_rate_ppm=fee,
        base_fee_msat=1000,
        total_score=None if liquidity is None else liquidity / 2,
        scores={"liquidity": liquidity, "activity": 0.1},
        kind=kind,
        verdict="approved" if kind == "raise_fee" else "no_write" if kind else None,
    )


ROWS = [
    row(5, "Bravo", 2_000_000, 100, "hold", 0.2),
    row(3, "alpha", 5_000_000, 10, "raise_fee", None),
    row(9, "Charlie", 1_000_000, 500, None, 0.9),
    row(7, "delta", 5_000_000, 50, "hold", 0.4),
]


def query(**params: str | None) -> TableQuery:
    """A checked query from raw parameters."""
    get = params.get
    filters = (get("q"), get("decision"), get("verdict"))
    return parse_table_query(get("sort"), get("dir"), *filters, get("page"), HEURISTICS)


def ids(view_rows: list[ChannelRow]) -> list[str]:
    """The chan_ids in table order."""
    return [r.chan_id for r in view_rows]


def test_default_is_largest_capacity_first_with_ties_by_channel_id():
    assert ids(table_view(ROWS, query()).rows) == ["3", "7", "5", "9"]


def test_each_direction_and_unknown_values_last_in_both():
    assert ids(table_view(ROWS, query(sort="liquidity", dir="desc")).rows) == ["9", "7", "5", "3"]
    assert ids(table_view(ROWS, query(sort="liquidity", dir="asc")).rows) == ["5", "7", "9", "3"]
    assert ids(table_view(ROWS, query(sort="decision", dir="asc")).rows) == ["5", "7", "3", "9"]
    assert ids(table_view(ROWS, query(sort="alias")).rows) == ["3", "5", "9", "7"]  # A to Z, any case


def test_filters_by_decision_verdict_and_text():
    assert ids(table_view(ROWS, query(decision="hold")).rows) == ["7", "5"]
    assert ids(table_view(ROWS, query(verdict="approved")).rows) == ["3"]
    assert ids(table_view(ROWS, query(q="ALPHA")).rows) == ["3"]
    assert ids(table_view(ROWS, query(q="9x0")).rows) == ["9"]  # the scid
    view = table_view(ROWS, query(decision="hold", q="delta"))
    assert (view.matching, view.total) == (1, 4)


def test_pages_cut_the_sorted_list_and_clamp_past_the_end():
    first = table_view(ROWS, query(sort="fee", dir="asc"), per_page=3)
    second = table_view(ROWS, query(sort="fee", dir="asc", page="2"), per_page=3)
    assert ids(first.rows) == ["3", "7", "5"] and ids(second.rows) == ["9"]
    assert (first.pages, second.page) == (2, 2)
    assert table_view(ROWS, query(page="40"), per_page=3).page == 2


@pytest.mark.parametrize(
    "params, message",
    [
        ({"sort": "secret_column"}, "cannot sort by"),
        ({"sort": "a" * 200}, "cannot sort by"),
        ({"dir": "sideways"}, "asc or desc"),
        ({"decision": "burn_it"}, "unknown decision"),
        ({"verdict": "maybe"}, "unknown verdict"),
        ({"page": "0"}, "positive whole number"),
        ({"page": "-1"}, "positive whole number"),
        ({"page": "1e9"}, "positive whole number"),
        ({"q": "x" * 101}, "longer than 100"),
    ],
)
def test_bad_parameters_are_a_clear_422(params: dict[str, str], message: str):
    with pytest.raises(InvalidInputError, match=message):
        query(**params)


def test_links_keep_the_filters_and_a_second_click_flips_the_direction():
    current = query(sort="fee", dir="desc", decision="hold", q="x")
    assert current.sort_link("fee") == {"sort": "fee", "dir": "asc", "q": "x", "decision": "hold"}
    assert current.sort_link("alias")["dir"] == "asc" and current.sort_link("capacity")["dir"] == "desc"
    assert current.link(page=3)["page"] == "3"
