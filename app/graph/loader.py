"""Load LND `GET /v1/graph` JSON (plain or gzip) into a ChannelGraph, with errors that name record and field."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from app.domain.base import PUBKEY_PATTERN
from app.errors import GraphFormatError
from app.graph.model import ChannelGraph, PolicyColumns

PUBKEY_RE = re.compile(PUBKEY_PATTERN)
POLICY_FIELDS = (
    # (LND field, column name)
    ("fee_base_msat", "base_fee_msat"),
    ("fee_rate_milli_msat", "fee_rate_ppm"),
    ("time_lock_delta", "time_lock_delta"),
    ("min_htlc", "min_htlc_msat"),
    ("max_htlc_msat", "max_htlc_msat"),
    ("inbound_fee_base_msat", "inbound_base_fee_msat"),
    ("inbound_fee_rate_milli_msat", "inbound_fee_rate_ppm"),
    ("last_update", "last_update"),
)
INT64_MAX = 2**63 - 1  # the columns are int64; a larger value is refused, never wrapped


def load_graph(path: Path | str) -> ChannelGraph:
    """Read a graph file; `.gz` files are decompressed."""
    path = Path(path)
    return decode_graph(read_graph_file(path), path)


def read_graph_file(path: Path) -> bytes:
    """The file's bytes as stored (still compressed for `.gz`), with errors that name the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise GraphFormatError(f"graph file {path} does not exist", {"path": str(path)}) from exc
    except OSError as exc:
        raise GraphFormatError(
            f"graph file {path} cannot be read: {exc.strerror}", {"path": str(path)}
        ) from exc
    return raw


def decode_graph(raw: bytes, path: Path) -> ChannelGraph:
    """Decompress (`.gz`), decode and parse the bytes of the graph file at `path`."""
    digest = content_digest(raw)
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise GraphFormatError(
                f"graph file {path} is not valid gzip: {exc}", {"path": str(path)}
            ) from exc
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise GraphFormatError(f"graph file {path} is not valid JSON: {exc}", {"path": str(path)}) from exc
    return dataclasses.replace(parse_graph(document, source=str(path)), content_digest=digest)


def content_digest(raw: bytes) -> str:
    """SHA-256 of a graph file's bytes as stored: what caches of the parsed graph are keyed by."""
    return hashlib.sha256(raw).hexdigest()


def parse_graph(document: Any, source: str = "memory", synthetic: bool = False) -> ChannelGraph:
    """Convert a decoded `GET /v1/graph` document into a ChannelGraph."""
    if not isinstance(document, dict):
        raise GraphFormatError("graph document must be a JSON object with 'nodes' and 'edges'")
    nodes = _require_list(document, "nodes")
    edges = _require_list(document, "edges")
    pubkeys, aliases = _parse_nodes(nodes)
    index = {pubkey: i for i, pubkey in enumerate(pubkeys)}
    columns = _EdgeColumns()
    for position, edge in enumerate(edges):
        columns.add(position, edge, index)
    meta = document.get("_meta")
    caveats = meta.get("caveats", []) if isinstance(meta, dict) else []
    notes = [str(note) for note in caveats] if isinstance(caveats, list) else []
    return columns.build(pubkeys, aliases, source, synthetic, notes)


def _require_list(document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key)
    if not isinstance(value, list):
        raise GraphFormatError(f"graph document: field {key!r} must be a list", {"field": key})
    return value


def _parse_nodes(nodes: list[Any]) -> tuple[list[str], list[str]]:
    pubkeys: list[str] = []
    aliases: list[str] = []
    seen: set[str] = set()
    for position, node in enumerate(nodes):
        where = f"nodes[{position}]"
        if not isinstance(node, dict):
            raise GraphFormatError(f"{where}: must be an object", {"record": where})
        pubkey = node.get("pub_key")
        if not isinstance(pubkey, str) or not PUBKEY_RE.match(pubkey):
            raise GraphFormatError(
                f"{where}: field 'pub_key' must be a 33-byte compressed pubkey in lowercase hex, got {pubkey!r}",
                {"record": where, "field": "pub_key"},
            )
        if pubkey in seen:
            raise GraphFormatError(
                f"{where}: duplicate pub_key {pubkey}", {"record": where, "field": "pub_key"}
            )
        seen.add(pubkey)
        alias = node.get("alias", "")
        pubkeys.append(pubkey)
        aliases.append(alias if isinstance(alias, str) else "")
    return pubkeys, aliases


def _as_int(value: Any, where: str, name: str, signed: bool = False) -> int:
    """LND sends int64/uint64 as strings and smaller ints as numbers; accept both, reject anything else."""
    if type(value) is int:
        number = value
    elif isinstance(value, str) and (
        value.isdigit() or (signed and value[:1] == "-" and value[1:].isdigit())
    ):
        number = int(value)
    else:
        raise GraphFormatError(
            f"{where}: field {name!r} must be an integer or a decimal string, got {value!r}",
            {"record": where, "field": name},
        )
    if not signed and number < 0:
        raise GraphFormatError(
            f"{where}: field {name!r} must not be negative, got {number}", {"record": where}
        )
    if number > INT64_MAX:
        raise GraphFormatError(f"{where}: field {name!r} is out of range, got {number}", {"record": where})
    return number


class _EdgeColumns:
    """Accumulates edges into Python lists (much faster to append than numpy items) and freezes them."""

    def __init__(self) -> None:
        self.channel_ids: list[str] = []
        self.chan_points: list[str] = []
        self.node1: list[int] = []
        self.node2: list[int] = []
        self.capacity: list[int] = []
        self.sides: list[dict[str, list[int]]] = [self._policy_lists(), self._policy_lists()]

    @staticmethod
    def _policy_lists() -> dict[str, list[int]]:
        lists: dict[str, list[int]] = {column: [] for _, column in POLICY_FIELDS}
        lists["present"] = []
        lists["disabled"] = []
        return lists

    def add(self, position: int, edge: Any, index: dict[str, int]) -> None:
        """Validate one edge record and append it."""
        where = f"edges[{position}]"
        if not isinstance(edge, dict):
            raise GraphFormatError(f"{where}: must be an object", {"record": where})
        channel_id = edge.get("channel_id")
        where = f"edges[{position}] (channel_id {channel_id})"
        _as_int(channel_id, where, "channel_id")
        self.channel_ids.append(str(channel_id))
        chan_point = edge.get("chan_point", "")
        self.chan_points.append(chan_point if isinstance(chan_point, str) else "")
        for end, column in (("node1_pub", self.node1), ("node2_pub", self.node2)):
            pubkey = edge.get(end)
            if pubkey not in index:
                raise GraphFormatError(
                    f"{where}: field {end!r} names a node that is not in 'nodes': {pubkey!r}",
                    {"record": where, "field": end},
                )
            column.append(index[pubkey])
        self.capacity.append(_as_int(edge.get("capacity"), where, "capacity"))
        for side, key in ((0, "node1_policy"), (1, "node2_policy")):
            self._add_policy(self.sides[side], edge.get(key), where, key)

    @staticmethod
    def _add_policy(lists: dict[str, list[int]], policy: Any, where: str, key: str) -> None:
        if policy is not None and not isinstance(policy, dict):
            raise GraphFormatError(f"{where}: field {key!r} must be an object or null", {"record": where})
        lists["present"].append(policy is not None)
        disabled = policy.get("disabled", False) if policy else False
        if not isinstance(disabled, bool):
            raise GraphFormatError(f"{where}: field '{key}.disabled' must be true or false, got {disabled!r}")
        lists["disabled"].append(disabled)
        for lnd_name, column_name in POLICY_FIELDS:
            if policy is None:
                lists[column_name].append(0)
                continue
            signed = lnd_name.startswith("inbound")
            lists[column_name].append(
                _as_int(policy.get(lnd_name, 0), where, f"{key}.{lnd_name}", signed=signed)
            )

    def build(
        self, pubkeys: list[str], aliases: list[str], source: str, synthetic: bool, notes: list[str]
    ) -> ChannelGraph:
        """Freeze the lists into numpy columns."""
        policies = [
            PolicyColumns(
                **{
                    name: np.array(values, dtype=bool if name in ("present", "disabled") else np.int64)
                    for name, values in lists.items()
                }
            )
            for lists in self.sides
        ]
        return ChannelGraph(
            pubkeys=pubkeys,
            aliases=aliases,
            channel_ids=self.channel_ids,
            chan_points=self.chan_points,
            node1=np.array(self.node1, dtype=np.int64),
            node2=np.array(self.node2, dtype=np.int64),
            capacity_sat=np.array(self.capacity, dtype=np.int64),
            policy1=policies[0],
            policy2=policies[1],
            source=source,
            synthetic=synthetic,
            notes=notes,
        )
