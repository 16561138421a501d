"""Base model and field types shared by the domain models."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# LND encodes uint64 channel ids as decimal strings; JSON numbers lose precision above 2**53,
# so channel ids stay strings end to end.
ChannelId = Annotated[str, Field(pattern=r"^[0-9]{1,20}$", description="uint64 short channel id, decimal")]
# Shared by the PubKey field and the graph loader, so a pubkey valid in one is valid in the other.
PUBKEY_PATTERN = r"^(02|03)[0-9a-f]{64}$"
PubKey = Annotated[str, Field(pattern=PUBKEY_PATTERN, description="33-byte compressed pubkey, hex")]
Sat = Annotated[int, Field(ge=0, description="amount in satoshis")]
Msat = Annotated[int, Field(ge=0, description="amount in millisatoshis")]
# MongoDB stores integers as signed 64-bit: anything wider fails in the encoder, so it is refused at the edge.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(text: str) -> str:
    r"""Refuse control characters (NUL, newlines, escapes) and bidi overrides in a name shown to people.

    A NUL ends a C string: the unique index saw "x\0y" as "x" and let one tenant squat another's name.
    Other format characters stay allowed: emoji sequences are joined with U+200D.
    """
    bad = sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS})
    if bad:
        raise ValueError(f"control characters are not allowed ({', '.join(bad[:5])})")
    if text.strip() != text or not text:
        raise ValueError("must not be empty or start or end with whitespace")
    return text


_NAME_CHAR = r"[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
_NAME_EDGE = r"[^\s\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
# What `printable` accepts, for the OpenAPI (clients and the schema fuzzer); the validator gives the message.
NAME_PATTERN = f"^{_NAME_EDGE}(?:{_NAME_CHAR}*{_NAME_EDGE})?$"
Name = Annotated[
    str,
    Field(min_length=1, max_length=200, json_schema_extra={"pattern": NAME_PATTERN}),
    AfterValidator(printable),
]


class DomainModel(BaseModel):
    """Immutable model that rejects unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")
