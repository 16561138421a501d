"""LND macaroons: accept hex, base64 or a file; read their permissions; mint and verify them for the sandbox.

Written here because no maintained library fits: pymacaroons has had no release since 2018 and does not
know LND's identifier layout (a version byte 3 followed by the protobuf `MacaroonId {nonce, storageId,
ops}` of lightning.proto). The binary format is the libmacaroons v2 one used by gopkg.in/macaroon.v2.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from app.errors import InvalidInputError

V2 = 2
FIELD_EOS, FIELD_LOCATION, FIELD_IDENTIFIER, FIELD_VID, FIELD_SIGNATURE = 0, 1, 2, 4, 6
LND_ID_VERSION = 3
# What a fee optimizer needs: node info and graph (info:read), channels, fees and forwards (offchain:read),
# policy updates (offchain:write).
REQUIRED_PERMISSIONS = frozenset({"info:read", "offchain:read", "offchain:write"})
ADMIN_MARKERS = frozenset({"onchain:write", "macaroon:generate", "signer:generate", "address:write"})


@dataclass(frozen=True)
class Macaroon:
    """A parsed macaroon: identifier, first-party caveats, signature, and LND permissions when decodable."""

    location: str
    identifier: bytes
    caveats: tuple[bytes, ...]
    signature: bytes
    permissions: frozenset[str] | None  # None: identifier is not in LND's format

    @property
    def is_admin_like(self) -> bool:
        """Carries write powers far beyond what fee management needs."""
        return bool(self.permissions and self.permissions & ADMIN_MARKERS)

    def missing_permissions(self) -> frozenset[str]:
        """Permissions the optimizer needs that this macaroon lacks (empty when unknown)."""
        return REQUIRED_PERMISSIONS - self.permissions if self.permissions is not None else frozenset()

    def warnings(self) -> list[str]:
        """Operator-facing warnings about this macaroon (never containing the secret)."""
        notes = []
        if self.is_admin_like:
            notes.append(
                "an admin-level macaroon was given; a narrower one with info:read, offchain:read and "
                "offchain:write suffices (lncli bakemacaroon info:read offchain:read offchain:write)"
            )
        missing = self.missing_permissions()
        if missing:
            notes.append(f"the macaroon lacks {', '.join(sorted(missing))}: some operations will fail")
        return notes


def macaroon_bytes(value: str | bytes | Path) -> bytes:
    """Raw macaroon bytes from hex text, base64 text (standard or URL-safe), raw bytes, or a file path."""
    if isinstance(value, Path):
        try:
            raw = value.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"cannot read macaroon file {value}: {exc.strerror}") from exc
        return macaroon_bytes(raw) if _looks_textual(raw) else raw
    if isinstance(value, bytes):
        if _looks_textual(value):
            return macaroon_bytes(value.decode("ascii"))
        return value
    text = value.strip()
    if not text:
        raise InvalidInputError("the macaroon is empty")
    try:
        return bytes.fromhex(text)
    except ValueError:
        pass
    try:
        padded = text + "=" * (-len(text) % 4)
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError("the macaroon is neither hex nor base64") from None


def _looks_textual(raw: bytes) -> bool:
    return bool(raw) and raw[0] != V2 and all(32 <= byte < 127 or byte in b"\r\n" for byte in raw)


def parse_macaroon(raw: bytes) -> Macaroon:
    """Decode a v2 binary macaroon; InvalidInputError (without the secret) when it is malformed."""
    reader = _Reader(raw)
    if reader.byte() != V2:
        raise InvalidInputError("unsupported macaroon format: only the v2 binary format is accepted")
    location = reader.optional(FIELD_LOCATION)
    identifier = reader.required(FIELD_IDENTIFIER)
    reader.end_of_section()
    caveats: list[bytes] = []
    while reader.peek() != FIELD_EOS:
        reader.optional(FIELD_LOCATION)
        caveats.append(reader.required(FIELD_IDENTIFIER))
        reader.optional(FIELD_VID)
        reader.end_of_section()
    reader.end_of_section()
    signature = reader.required(FIELD_SIGNATURE)
    if len(signature) != 32:
        raise InvalidInputError("malformed macaroon: signature must be 32 bytes")
    return Macaroon(
        location=location.decode("utf-8", "replace"),
        identifier=identifier,
        caveats=tuple(caveats),
        signature=signature,
        permissions=_lnd_permissions(identifier),
    )


def mint_macaroon(
    root_key: bytes, permissions: dict[str, list[str]], nonce: bytes, location: str = "lnd"
) -> bytes:
    """A v2 macaroon in LND's identifier format, signed with `root_key` (for the sandbox simulator)."""
    ops = b"".join(
        _proto_field(
            3, _proto_field(1, entity.encode()) + b"".join(_proto_field(2, a.encode()) for a in actions)
        )
        for entity, actions in sorted(permissions.items())
    )
    identifier = bytes([LND_ID_VERSION]) + _proto_field(1, nonce) + _proto_field(2, b"0") + ops
    signature = hmac.new(_derive_key(root_key), identifier, hashlib.sha256).digest()
    return (
        bytes([V2])
        + _field(FIELD_LOCATION, location.encode())
        + _field(FIELD_IDENTIFIER, identifier)
        + bytes([FIELD_EOS, FIELD_EOS])
        + _field(FIELD_SIGNATURE, signature)
    )


def verify_macaroon(raw: bytes, root_key: bytes) -> Macaroon:
    """Parse and check the HMAC chain against `root_key`; InvalidInputError when forged or malformed."""
    macaroon = parse_macaroon(raw)
    signature = hmac.new(_derive_key(root_key), macaroon.identifier, hashlib.sha256).digest()
    for caveat in macaroon.caveats:
        signature = hmac.new(signature, caveat, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, macaroon.signature):
        raise InvalidInputError("macaroon signature does not verify")
    return macaroon


def _derive_key(root_key: bytes) -> bytes:
    # libmacaroons derives the signing key from the root key with this fixed HMAC key.
    return hmac.new(b"macaroons-key-generator", root_key, hashlib.sha256).digest()


def _field(kind: int, data: bytes) -> bytes:
    return bytes([kind]) + _varint(len(data)) + data


def _proto_field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _lnd_permissions(identifier: bytes) -> frozenset[str] | None:
    """`entity:action` strings from LND's MacaroonId protobuf, or None when the id is not LND's."""
    if not identifier or identifier[0] != LND_ID_VERSION:
        return None
    try:
        permissions: set[str] = set()
        for number, value in _proto_fields(identifier[1:]):
            if number != 3:
                continue
            entity = ""
            actions: list[str] = []
            for inner_number, inner in _proto_fields(value):
                if inner_number == 1:
                    entity = inner.decode()
                elif inner_number == 2:
                    actions.append(inner.decode())
            permissions.update(f"{entity}:{action}" for action in actions)
        return frozenset(permissions)
    except (InvalidInputError, UnicodeDecodeError):
        return None


def _proto_fields(data: bytes) -> list[tuple[int, bytes]]:
    """Length-delimited fields of a protobuf message (the only wire type MacaroonId uses)."""
    reader = _Reader(data)
    fields = []
    while not reader.done():
        key = reader.varint()
        if key & 7 != 2:
            raise InvalidInputError("unexpected protobuf wire type in macaroon identifier")
        fields.append((key >> 3, reader.take(reader.varint())))
    return fields


class _Reader:
    """Cursor over bytes that raises InvalidInputError instead of IndexError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def done(self) -> bool:
        return self.position >= len(self.data)

    def peek(self) -> int:
        if self.done():
            raise InvalidInputError("malformed macaroon: truncated")
        return self.data[self.position]

    def byte(self) -> int:
        value = self.peek()
        self.position += 1
        return value

    def take(self, count: int) -> bytes:
        if self.position + count > len(self.data):
            raise InvalidInputError("malformed macaroon: truncated")
        chunk = self.data[self.position : self.position + count]
        self.position += count
        return chunk

    def varint(self) -> int:
        value = shift = 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise InvalidInputError("malformed macaroon: varint too long")

    def optional(self, kind: int) -> bytes:
        if not self.done() and self.peek() == kind:
            self.byte()
            return self.take(self.varint())
        return b""

    def required(self, kind: int) -> bytes:
        if self.byte() != kind:
            raise InvalidInputError(f"malformed macaroon: expected field {kind}")
        return self.take(self.varint())

    def end_of_section(self) -> None:
        if self.byte() != FIELD_EOS:
            raise InvalidInputError("malformed macaroon: missing end of section")
