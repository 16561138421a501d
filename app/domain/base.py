"""Base model and field types shared by the domain models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# LND encodes uint64 channel ids as decimal strings; JSON numbers lose precision above 2**53,
# so channel ids stay strings end to end.
ChannelId = Annotated[str, Field(pattern=r"^[0-9]{1,20}$", description="uint64 short channel id, decimal")]
# Shared by the PubKey field and the graph loader, so a pubkey valid in one is valid in the other.
PUBKEY_PATTERN = r"^(02|03)[0-9a-f]{64}$"
PubKey = Annotated[str, Field(pattern=PUBKEY_PATTERN, description="33-byte compressed pubkey, hex")]
Sat = Annotated[int, Field(ge=0, description="amount in satoshis")]
Msat = Annotated[int, Field(ge=0, description="amount in millisatoshis")]


class DomainModel(BaseModel):
    """Immutable model that rejects unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")
