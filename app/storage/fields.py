"""Field types every stored record shares: ids, UTC datetimes at BSON precision, the ordering key."""

from __future__ import annotations

import itertools
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, Field

# Same alphabet as the vault's identifiers: node and tenant ids are bound into credential ciphertexts.
RecordId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def bson_utc(value: datetime) -> datetime:
    """UTC, truncated to the millisecond BSON keeps, so a record reads back equal to what was written."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
    value = value.astimezone(UTC)
    if value < EPOCH:
        raise ValueError("datetimes before 1970 are not stored")
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


UtcDatetime = Annotated[datetime, AfterValidator(bson_utc)]


def utc_now() -> datetime:
    """The current time in UTC at BSON (millisecond) precision."""
    return bson_utc(datetime.now(UTC))


# Ids start with a per-process increasing stamp, so records made in one process within the same
# millisecond still page (newest first, by `<ms>|<id>`) in the order they were made; an audit trail
# with two entries in one millisecond used to come back in random order.
_sequence = itertools.count()


def new_id() -> str:
    """A fresh record id: 64 bits of time-ordered stamp, then 64 random bits (32 hex characters)."""
    stamp = (time.time_ns() // 1_000_000 << 20) | (next(_sequence) & 0xFFFFF)
    return f"{stamp:016x}{secrets.token_hex(8)}"


def epoch_ms(moment: datetime) -> int:
    """Whole milliseconds since the Unix epoch."""
    return (moment - EPOCH) // _ONE_MS


def time_prefix(moment: datetime) -> str:
    """The fixed-width time part of a page key: zero-padded epoch milliseconds (good until year 2286)."""
    return f"{epoch_ms(moment):013d}"


def page_key(moment: datetime, record_id: str) -> str:
    """Total order key `<epoch ms>|<id>`: newest-first paging and exact time ranges by string comparison.

    nx-27017 compares datetimes in queries at whole-second precision, so time ranges and cursor filters
    compare this string instead; its order matches (created_at, id) on every server.
    """
    return f"{time_prefix(moment)}|{record_id}"
