"""Cursor pagination, newest first: an opaque URL-safe cursor carries the page key (time, id) of the last item."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from app.errors import InvalidInputError
from app.storage.documents import PAGE_KEY, Document

ItemT = TypeVar("ItemT")
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
_PAGE_KEY_PATTERN = re.compile(r"^[0-9]{13}\|[A-Za-z0-9._:-]{1,128}$")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list; pass `next_cursor` back to get the next one (None: this was the last)."""

    model_config = ConfigDict(frozen=True)

    items: list[ItemT]
    next_cursor: str | None = None


def encode_cursor(key: str) -> str:
    """Opaque, URL-safe form of a page key."""
    return base64.urlsafe_b64encode(key.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The page key inside a cursor; InvalidInputError when it was not made by `encode_cursor`."""
    try:
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        key = ""
    if not _PAGE_KEY_PATTERN.fullmatch(key):
        raise InvalidInputError("invalid page cursor", {"cursor": cursor[:100]})
    return key


def check_limit(limit: int, *, maximum: int = MAX_PAGE_SIZE, field: str = "limit") -> int:
    """`limit` itself, or InvalidInputError naming `field` when outside 1..maximum."""
    if not 1 <= limit <= maximum:
        raise InvalidInputError(f"{field} must be between 1 and {maximum}", {field: limit})
    return limit


async def fetch_page(
    collection: AsyncCollection[Document],
    query: Document,
    parse: Callable[[Document], ItemT],
    *,
    limit: int,
    cursor: str | None,
) -> Page[ItemT]:
    """Items matching `query` after `cursor`, newest first, plus the cursor of the following page.

    One extra document is read to learn whether another page exists, so the last page has no cursor.
    The page key is unique, so no item is ever repeated or skipped between pages, even when several
    share a timestamp or items are added meanwhile (new ones appear on the first page only).
    """
    check_limit(limit)
    if PAGE_KEY in query:
        raise ValueError("a paged query must not filter on the page key itself")
    if cursor is not None:
        query = {**query, PAGE_KEY: {"$lt": decode_cursor(cursor)}}
    documents = await collection.find(query).sort(PAGE_KEY, DESCENDING).limit(limit + 1).to_list()
    has_more = len(documents) > limit
    documents = documents[:limit]
    next_cursor = encode_cursor(documents[-1][PAGE_KEY]) if has_more else None
    return Page(items=[parse(document) for document in documents], next_cursor=next_cursor)
