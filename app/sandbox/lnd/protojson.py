"""Parse LND REST requests the way grpc-gateway and protojson do: strict bodies, lenient query strings.

protojson (LND's REST unmarshaller, DiscardUnknown off) rejects unknown body fields, accepts both the proto
name and the lowerCamelCase JSON name, takes 64-bit integers as strings or numbers, and treats `null` as
unset. grpc-gateway ignores unknown query parameters but rejects malformed values. Messages keep the
`proto:` / `strconv.` wording of the Go libraries, without their line and column positions.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from app.sandbox.lnd.errors import LndError, invalid_argument, unknown

Scalar = Literal["int64", "uint64", "uint32", "int32", "bool", "double", "bytes", "string"]
RANGES: dict[str, tuple[int, int]] = {
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
}
GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
BASE64_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@dataclass(frozen=True)
class Repeated:
    """A repeated scalar field."""

    item: Scalar


@dataclass(frozen=True)
class Message:
    """The shape of a request message: field kinds by proto name, and its oneof groups."""

    name: str
    fields: Mapping[str, Scalar | Repeated | Message]
    oneofs: tuple[tuple[str, tuple[str, ...]], ...] = ()
    json_names: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        """Index the lowerCamelCase JSON names protojson also accepts."""
        object.__setattr__(self, "json_names", {camel(name): name for name in self.fields})


def camel(name: str) -> str:
    """protoc's JSON name: snake_case to lowerCamelCase."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


CHANNEL_POINT = Message(
    "lnrpc.ChannelPoint",
    {"funding_txid_bytes": "bytes", "funding_txid_str": "string", "output_index": "uint32"},
    oneofs=(("funding_txid", ("funding_txid_bytes", "funding_txid_str")),),
)
INBOUND_FEE = Message("lnrpc.InboundFee", {"base_fee_msat": "int32", "fee_rate_ppm": "int32"})
POLICY_UPDATE_REQUEST = Message(
    "lnrpc.PolicyUpdateRequest",
    {
        "global": "bool",
        "chan_point": CHANNEL_POINT,
        "base_fee_msat": "int64",
        "fee_rate": "double",
        "fee_rate_ppm": "uint32",
        "time_lock_delta": "uint32",
        "max_htlc_msat": "uint64",
        "min_htlc_msat": "uint64",
        "min_htlc_msat_specified": "bool",
        "inbound_fee": INBOUND_FEE,
        "create_missing_edge": "bool",
    },
    oneofs=(("scope", ("global", "chan_point")),),
)
FORWARDING_HISTORY_REQUEST = Message(
    "lnrpc.ForwardingHistoryRequest",
    {
        "start_time": "uint64",
        "end_time": "uint64",
        "index_offset": "uint32",
        "num_max_events": "uint32",
        "peer_alias_lookup": "bool",
        "incoming_chan_ids": Repeated("uint64"),
        "outgoing_chan_ids": Repeated("uint64"),
    },
)


def parse_body(raw: bytes, spec: Message) -> dict[str, Any]:
    """Decode a JSON request body into the fields it sets (an empty body is an empty message)."""
    if not raw.strip():
        return {}  # grpc-gateway treats io.EOF as an empty request
    try:
        document = orjson.loads(raw)
    except ValueError as exc:
        raise invalid_argument(f"proto: syntax error: {exc}") from None
    return parse_message(document, spec)


def parse_message(value: Any, spec: Message) -> dict[str, Any]:
    """The fields a decoded JSON object sets, converted to Python values; LndError on any mismatch."""
    if not isinstance(value, dict):
        raise invalid_argument(
            f"proto: unexpected token {_go_repr(value)}, expected an object for {spec.name}"
        )
    parsed: dict[str, Any] = {}
    for key, item in value.items():
        name = key if key in spec.fields else spec.json_names.get(key)
        if name is None:
            raise invalid_argument(f'proto: unknown field "{key}"')
        if name in parsed:
            raise invalid_argument(f'proto: duplicate field "{key}"')
        if item is None:
            continue  # protojson: null leaves the field unset
        for group, members in spec.oneofs:
            if name in members and any(other in parsed for other in members):
                raise invalid_argument(
                    f'proto: error parsing "{key}", oneof {spec.name}.{group} is already set'
                )
        kind = spec.fields[name]
        if isinstance(kind, Message):
            parsed[name] = parse_message(item, kind)
        elif isinstance(kind, Repeated):
            if not isinstance(item, list):
                raise invalid_argument(f"proto: invalid value for repeated field {key}: {_go_repr(item)}")
            parsed[name] = [parse_scalar(element, kind.item, key) for element in item]
        else:
            parsed[name] = parse_scalar(item, kind, key)
    return parsed


def parse_scalar(value: Any, kind: Scalar, key: str) -> Any:
    """One scalar as protojson reads it from JSON."""
    bad = invalid_argument(f"proto: invalid value for {kind} field {key}: {_go_repr(value)}")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise bad
    if kind == "string":
        if isinstance(value, str):
            return value
        raise bad
    if kind == "bytes":
        if isinstance(value, str):
            return decode_base64(value, bad)
        raise bad
    if kind == "double":
        return _double(value, bad)
    return _integer(value, kind, bad)


def _integer(value: Any, kind: Scalar, bad: LndError) -> int:
    if isinstance(value, bool):
        raise bad
    integral_float = isinstance(value, float) and value.is_integer()
    decimal_text = isinstance(value, str) and value.strip() == value and value.lstrip("-").isdigit()
    if not isinstance(value, int) and not integral_float and not decimal_text:
        raise bad
    number = int(value)
    low, high = RANGES[kind]
    if not low <= number <= high:
        raise bad
    return number


def _double(value: Any, bad: LndError) -> float:
    if isinstance(value, bool):
        raise bad
    if isinstance(value, int | float):
        return float(value)
    special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
    if isinstance(value, str):
        if value in special:
            return special[value]
        try:
            return float(value)
        except ValueError:
            raise bad from None
    raise bad


def decode_base64(text: str, error: LndError) -> bytes:
    """Standard or URL-safe base64, padded or not, as protojson and grpc-gateway accept."""
    padded = text + "=" * (-len(text) % 4)
    for alphabet in (None, b"-_"):
        try:
            return base64.b64decode(padded, altchars=alphabet, validate=True)
        except (binascii.Error, ValueError):
            continue
    raise error


def query_bool(query: Mapping[str, str], name: str) -> bool:
    """A boolean query parameter as grpc-gateway parses it (Go's strconv.ParseBool)."""
    value = query.get(name)
    if value is None:
        return False
    if value in GO_TRUE:
        return True
    if value in GO_FALSE:
        return False
    raise invalid_argument(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def query_uint64(query: Mapping[str, str], name: str) -> int:
    """A uint64 query parameter as grpc-gateway parses it (Go's strconv.ParseUint); absent is 0."""
    value = query.get(name)
    if value is None:
        return 0
    if value.isdigit() and int(value) < 2**64:
        return int(value)
    raise invalid_argument(f'strconv.ParseUint: parsing "{value}": invalid syntax')


def query_bytes(query: Mapping[str, str], name: str) -> bytes:
    """A bytes query parameter as runtime.Bytes reads it: padded base64, standard then URL-safe alphabet.

    Unlike protojson bodies, Go's padded decoders refuse a missing `=`: a hex pubkey is a 400 here.
    """
    value = query.get(name)
    if not value:
        return b""
    for alphabet in (None, b"-_"):
        try:
            return base64.b64decode(value, altchars=alphabet, validate=True)
        except (binascii.Error, ValueError):
            continue
    valid = set(BASE64_STD) | set("-_=")
    position = next((i for i, char in enumerate(value) if char not in valid), len(value) - len(value) % 4)
    raise invalid_argument(f"illegal base64 data at input byte {position}")


def go_hex(text: str) -> bytes:
    """Go's hex.DecodeString, with its error messages (gRPC UNKNOWN in LND)."""
    for char in text:
        if char not in HEX_DIGITS:
            raise unknown(f"encoding/hex: invalid byte: U+{ord(char):04X} {char!r}")
    if len(text) % 2:
        raise unknown("encoding/hex: odd length hex string")
    return bytes.fromhex(text)


def path_uint64(value: str, name: str) -> int:
    """A uint64 path parameter, with grpc-gateway's type-mismatch message when it is not one."""
    if value.isdigit() and int(value) < 2**64:
        return int(value)
    raise invalid_argument(
        f'type mismatch, parameter: {name}, error: strconv.ParseUint: parsing "{value}": invalid syntax'
    )


def _go_repr(value: Any) -> str:
    """A short rendering of a JSON value for error messages."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
