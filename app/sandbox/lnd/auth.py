"""Macaroon authentication as LND does it (macaroons.Service.ValidateMacaroon), with LND's error texts.

LND reads the hex macaroon from the `Grpc-Metadata-macaroon` header (grpc-gateway turns it into gRPC
metadata), checks the format, the identifier version, the HMAC chain against its root key and then the
permission the RPC needs. Every failure is a plain Go error: gRPC UNKNOWN, HTTP 500. First-party caveat
conditions are covered by the signature but not evaluated (LND would check time-before and friends).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from app.errors import InvalidInputError
from app.sandbox.lnd.errors import unknown
from app.sandbox.lnd.protojson import go_hex
from app.security.macaroons import LND_ID_VERSION, mint_macaroon, parse_macaroon, verify_macaroon

MACAROON_HEADER = "grpc-metadata-macaroon"
ADMIN_PERMISSIONS: dict[str, list[str]] = {
    "address": ["read", "write"],
    "info": ["read", "write"],
    "invoices": ["read", "write"],
    "macaroon": ["generate", "read", "write"],
    "message": ["read", "write"],
    "offchain": ["read", "write"],
    "onchain": ["read", "write"],
    "peers": ["read", "write"],
    "signer": ["generate", "read"],
}
READONLY_PERMISSIONS: dict[str, list[str]] = {entity: ["read"] for entity in ADMIN_PERMISSIONS}
FEES_PERMISSIONS: dict[str, list[str]] = {"info": ["read"], "offchain": ["read", "write"]}


@dataclass(frozen=True)
class Macaroons:
    """The macaroons a simulator hands out, all minted from one root key."""

    root_key: bytes
    admin: bytes
    readonly: bytes
    fees: bytes

    @classmethod
    def mint(cls, root_key: bytes | None = None) -> Macaroons:
        """Admin (everything), read-only (every entity:read) and fees (info:read, offchain:read/write)."""
        key = root_key or secrets.token_bytes(32)
        return cls(
            root_key=key,
            admin=mint_macaroon(key, ADMIN_PERMISSIONS, secrets.token_bytes(16)),
            readonly=mint_macaroon(key, READONLY_PERMISSIONS, secrets.token_bytes(16)),
            fees=mint_macaroon(key, FEES_PERMISSIONS, secrets.token_bytes(16)),
        )


def check_macaroon(values: list[str], root_key: bytes, permission: str, full_method: str) -> None:
    """Raise LND's error unless exactly one valid macaroon grants `permission` (or `uri:<method>`)."""
    if len(values) != 1:
        raise unknown(f"expected 1 macaroon, got {len(values)}")
    raw = go_hex(values[0])
    try:
        macaroon = parse_macaroon(raw)
    except InvalidInputError as exc:
        raise unknown(f"cannot unmarshal macaroon: {exc.message}") from None
    if not macaroon.identifier or macaroon.identifier[0] != LND_ID_VERSION:
        raise unknown("invalid ID")
    try:
        verify_macaroon(raw, root_key)
    except InvalidInputError:
        raise unknown("verification failed: signature mismatch after caveat verification") from None
    granted = macaroon.permissions or frozenset()
    if permission not in granted and f"uri:{full_method}" not in granted:
        raise unknown("permission denied")
