"""Cursor paging: every item exactly once, newest first, even with shared timestamps and concurrent inserts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.errors import InvalidInputError
from app.storage.database import Storage
from app.storage.paging import Page, decode_cursor, encode_cursor
from app.storage.records import AuditRecord, NodeRecord
from tests.storage import builders
from tests.storage.builders import T0


async def collect(fetch, limit: int) -> tuple[list[str], int]:
    """Ids over every page, and the number of pages."""
    ids: list[str] = []
    cursor = None
    pages = 0
    while True:
        page: Page[NodeRecord] | Page[AuditRecord] = await fetch(limit=limit, cursor=cursor)
        pages += 1
        assert len(page.items) <= limit
        ids += [item.id for item in page.items]
        if page.next_cursor is None:
            return ids, pages
        cursor = page.next_cursor


@pytest.mark.parametrize("limit", [1, 7, 53, 500])
async def test_every_node_appears_exactly_once_in_order(storage: Storage, limit: int):
    # Five nodes share each creation time, so the id breaks ties; milliseconds apart defeat nx's 1 s dates.
    nodes = [
        builders.node("t1", f"node-{n:02d}", created_at=T0 + timedelta(milliseconds=n // 5))
        for n in range(53)
    ]
    for record in nodes:
        await storage.nodes.add(record)
    ids, pages = await collect(lambda **kw: storage.nodes.list("t1", **kw), limit)
    expected = [r.id for r in sorted(nodes, key=lambda r: (r.created_at, r.id), reverse=True)]
    assert ids == expected
    assert pages == -(-53 // limit)  # no empty trailing page


async def test_items_added_while_paging_never_repeat_or_shift_the_rest(storage: Storage):
    records = [builders.audit("t1", T0 + timedelta(milliseconds=n)) for n in range(20)]
    for record in records:
        await storage.audit.add(record)
    first = await storage.audit.list("t1", limit=8)
    for n in range(5):  # newer records arrive between two page requests
        await storage.audit.add(builders.audit("t1", T0 + timedelta(seconds=10 + n)))
    seen = [r.id for r in first.items]
    cursor = first.next_cursor
    while cursor is not None:
        page = await storage.audit.list("t1", limit=8, cursor=cursor)
        seen += [r.id for r in page.items]
        cursor = page.next_cursor
    assert seen == [r.id for r in reversed(records)]


async def test_bad_cursors_and_limits_are_invalid_input(storage: Storage):
    for cursor in ["", "not-a-cursor", encode_cursor("1234|x"), "%%%", encode_cursor("0000000000001|a b")]:
        with pytest.raises(InvalidInputError):
            await storage.nodes.list("t1", cursor=cursor)
    for limit in (0, -1, 501):
        with pytest.raises(InvalidInputError):
            await storage.nodes.list("t1", limit=limit)
    key = "1772366400000|abc"
    assert decode_cursor(encode_cursor(key)) == key
    assert set(encode_cursor(key)) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
