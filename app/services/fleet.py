"""Every node of every tenant, page by page: what the platform jobs (cycles, health, backups) walk over."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TypeVar

from app.storage.database import Storage
from app.storage.paging import Page
from app.storage.records import NodeRecord

T = TypeVar("T")
PAGE = 100


async def every_item(fetch: Callable[..., Awaitable[Page[T]]]) -> AsyncIterator[T]:
    """Every item of a listing paged by `cursor=`, fetching the next page only when needed."""
    cursor: str | None = None
    while True:
        page = await fetch(cursor=cursor)
        for item in page.items:
            yield item
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def every_node(storage: Storage) -> AsyncIterator[NodeRecord]:
    """Every node of every tenant."""
    async for tenant in every_item(partial(storage.tenants.list, limit=PAGE)):
        async for node in every_item(partial(storage.nodes.list, tenant.id, limit=PAGE)):
            yield node
