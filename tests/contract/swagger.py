"""Contract validator: LND REST traffic checked against LND's own swagger (read from ../shared, never copied).

Swagger 2.0 definitions become Draft-4 JSON Schemas with LND's REST marshalling rules added, so neither our
client nor the simulator can drift from real LND:
- objects reject unknown fields (requests too: LND's protojson unmarshaller has DiscardUnknown off);
- responses must carry every field (EmitUnpopulated), except proto3 `optional` and oneof members, which
  protojson leaves out when unset (read from lightning.proto); an unset message field may be `null`;
- int64/uint64 are decimal strings, `integer/int64` (grpc-gateway's uint32) is 0..2^32-1, int32 is bounded,
  bytes are base64, enums are their names; at most one member of a oneof is set;
- error bodies are `rpcStatus`, and the HTTP status must be grpc-gateway's mapping of the gRPC code.
The schemas are standard Draft 4, checked with the `jsonschema` library.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

SWAGGER_FILE = Path(__file__).resolve().parents[2].parent / "shared/data/lnd/lightning.swagger.json"
SKIP_REASON = f"LND swagger not available at {SWAGGER_FILE} (clone without ../shared)"
GRPC_HTTP = {0: 200, 1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 11: 400,
             12: 501, 13: 500, 14: 503, 15: 500, 16: 401}  # fmt: skip
SCALARS: dict[tuple[str, str | None], dict[str, Any]] = {
    ("string", "int64"): {"type": "string", "pattern": r"^-?(0|[1-9][0-9]{0,18})$"},
    ("string", "uint64"): {"type": "string", "pattern": r"^(0|[1-9][0-9]{0,19})$"},
    ("string", "byte"): {"type": "string", "pattern": r"^[A-Za-z0-9+/_-]*={0,2}$"},
    ("integer", "int64"): {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},  # grpc-gateway's uint32
    ("integer", "int32"): {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1},
    ("number", "double"): {"type": "number"},
    ("boolean", None): {"type": "boolean"},
    ("string", None): {"type": "string"},
}
QUERY_VALUE = {"boolean": r"^(true|false)$", "integer": r"^-?[0-9]+$", "uint64": r"^[0-9]+$",
               "byte": r"^[A-Za-z0-9+/_-]*={0,2}$"}  # fmt: skip


class ContractError(AssertionError):
    """A request or response that real LND would not send or accept."""


def parse_proto(text: str) -> dict[str, tuple[set[str], set[str], list[tuple[str, ...]]]]:
    """Per message (dotted name): its fields, its proto3-optional fields and its oneof groups."""
    text = re.sub(r"//[^\n]*|/\*.*?\*/", "", re.sub(r'"[^"\n]*"', '""', text), flags=re.S)
    token = re.compile(r"(message|enum|oneof|service)\s+(\w+)\s*\{|\}|(optional\s+)?(?:repeated\s+)?"
                       r"(?:map<[^>]*>|[\w.]+)\s+(\w+)\s*=\s*\d+[^;]*;|\{")  # fmt: skip
    messages: dict[str, tuple[set[str], set[str], list[tuple[str, ...]]]] = {}
    stack: list[tuple[str, str]] = []
    for match in token.finditer(text):
        kind, name, optional, field = match.groups()
        if kind:
            stack.append((kind, name))
            if kind == "message":
                messages[".".join(n for k, n in stack if k == "message")] = (set(), set(), [])
            elif kind == "oneof":
                messages[".".join(n for k, n in stack if k == "message")][2].append(())
        elif match.group(0) == "{":
            stack.append(("block", ""))
        elif match.group(0) == "}":
            stack.pop()
        elif field and stack and stack[-1][0] in ("message", "oneof"):
            fields, optionals, oneofs = messages[".".join(n for k, n in stack if k == "message")]
            fields.add(field)
            if optional:
                optionals.add(field)
            if stack[-1][0] == "oneof":
                oneofs[-1] += (field,)
    return messages


class LndContract:
    """Operations and schemas of LND's REST API, with request and response validation."""

    def __init__(self, swagger: dict[str, Any], proto_text: str = "") -> None:
        self.swagger = swagger
        self.definitions: dict[str, Any] = swagger["definitions"]
        self._proto = parse_proto(proto_text)
        self._schemas = {mode: self._convert_all(mode) for mode in ("request", "response")}
        templates = sorted(swagger["paths"], key=lambda t: (t.count("{"), t))  # literal paths win
        self._paths = [(t, re.compile(re.sub(r"\{[^}]+\}", "[^/]+", t) + "$")) for t in templates]

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        """(path template, swagger operation) for a concrete path or a template; ContractError if absent."""
        for template, pattern in self._paths:
            if template == path or pattern.match(path):
                operation = self.swagger["paths"][template].get(method.lower())
                if operation is None:
                    raise ContractError(f"LND has no {method} {template}")
                return template, operation
        raise ContractError(f"LND has no REST path {path}")

    def schema(self, reference: str, mode: str) -> dict[str, Any]:
        """A self-contained Draft-4 schema for `#/definitions/...` in `request` or `response` mode."""
        return {"$ref": reference, "definitions": self._schemas[mode]}

    def validate_request(
        self, method: str, path: str, json_body: Any = None, query: dict[str, Any] | None = None
    ) -> None:
        """Check what a client sends: path parameters, known query parameters, and the body schema."""
        template, operation = self.operation(method, path)
        params = {p["name"]: p for p in operation.get("parameters", [])}
        errors: list[str] = []
        if template != path:
            for part, value in zip(template.split("/"), path.split("/"), strict=True):
                if part.startswith("{"):
                    errors += _query_errors(params[part[1:-1]], [value], f"path {part}")
        for name, value in (query or {}).items():
            if name not in params or params[name]["in"] != "query":
                errors.append(f"query: LND's {template} has no query parameter {name!r}")
            else:
                values = value if isinstance(value, list | tuple) else [value]
                errors += _query_errors(params[name], [_query_text(v) for v in values], f"query {name}")
        body = next((p for p in params.values() if p["in"] == "body"), None)
        if body is None and json_body is not None:
            errors.append(f"body: {method} {template} takes no body")
        elif body is not None:
            errors += check(
                json_body if json_body is not None else {}, self.schema(body["schema"]["$ref"], "request")
            )
        _raise(errors, f"request {method} {path}")

    def validate_response(self, method: str, path: str, status: int, json_body: Any) -> None:
        """Check what LND (or the simulator) answered: the 200 schema, or rpcStatus with the mapped status."""
        _, operation = self.operation(method, path)
        if isinstance(json_body, bytes | str):
            json_body = json.loads(json_body)
        key = "200" if status == 200 else "default"
        errors = check(json_body, self.schema(operation["responses"][key]["schema"]["$ref"], "response"))
        if status != 200 and not errors and GRPC_HTTP.get(json_body["code"]) != status:
            errors.append(f"HTTP {status} does not match gRPC code {json_body['code']} (grpc-gateway sends "
                          f"{GRPC_HTTP.get(json_body['code'])})")  # fmt: skip
        _raise(errors, f"response to {method} {path} (HTTP {status})")

    def _convert_all(self, mode: str) -> dict[str, Any]:
        return {name: self._convert(node, mode, name) for name, node in self.definitions.items()}

    def _convert(self, node: dict[str, Any], mode: str, name: str | None = None, field: bool = False) -> Any:
        if "$ref" in node:
            target = self.definitions[node["$ref"].rsplit("/", 1)[1]]
            ref = {"$ref": node["$ref"]}
            # protojson writes an unset message field as null (EmitUnpopulated) and reads null as unset.
            return {"anyOf": [{"type": "null"}, ref]} if field and target.get("type") == "object" else ref
        kind = node.get("type")
        if kind == "array":
            return {"type": "array", "items": self._convert(node["items"], mode)}
        if kind == "object":
            properties = {
                key: self._convert(value, mode, field=True)
                for key, value in node.get("properties", {}).items()
            }
            extra = node.get("additionalProperties", False)
            # A map's values have a schema; protobufAny's `{}` allows anything; a message allows nothing more.
            allowed = True if extra == {} else self._convert(extra, mode) if extra else False
            schema: dict[str, Any] = {
                "type": "object",
                "properties": properties,
                "additionalProperties": allowed,
            }
            _, optional, oneofs = self._message(name, set(properties))
            if mode == "response" and name and properties:
                schema["required"] = sorted(
                    set(properties) - optional - {f for group in oneofs for f in group}
                )
            schema["allOf"] = [
                {"not": {"required": [a, b]}} for group in oneofs for a in group for b in group if a < b
            ]
            return schema
        if "enum" in node:
            return {"type": "string", "enum": node["enum"]}
        return SCALARS[(str(kind), node.get("format"))]

    def _message(
        self, name: str | None, properties: set[str]
    ) -> tuple[set[str], set[str], list[tuple[str, ...]]]:
        """The proto message a definition was generated from (same fields, longest matching name)."""
        candidates = [(len(full), info) for full, info in self._proto.items()
                      if name and name.endswith(full.replace(".", "")) and info[0] == properties]  # fmt: skip
        return max(candidates, key=lambda c: c[0])[1] if candidates else (properties, set(), [])


def check(value: Any, schema: dict[str, Any]) -> list[str]:
    """Draft-4 validation with the jsonschema library; a list of `path: problem` messages."""
    validator = jsonschema.Draft4Validator(schema)
    return [f"{error.json_path}: {_message(error)}" for error in validator.iter_errors(value)]


def _message(error: jsonschema.ValidationError) -> str:
    """jsonschema's message, except for the oneof rule, whose `not required` form reads badly."""
    if error.validator == "not" and isinstance(error.validator_value, dict):
        return f"oneof members {error.validator_value.get('required')} are both set"
    return error.message[:200]


def _query_errors(param: dict[str, Any], values: list[str], where: str) -> list[str]:
    spec = param.get("items", param) if param.get("type") == "array" else param
    pattern = QUERY_VALUE.get(spec.get("format") or "", QUERY_VALUE.get(spec.get("type", ""), ""))
    if param.get("type") != "array" and len(values) != 1:
        return [f"{where}: expected one value, got {values}"]
    return [
        f"{where}: {v!r} is not a valid {spec.get('format') or spec['type']}"
        for v in values
        if not re.search(pattern, v)
    ]


def _query_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _raise(errors: list[str], what: str) -> None:
    if errors:
        raise ContractError(f"{what} breaks LND's contract:\n  " + "\n  ".join(errors[:20]))


@functools.cache
def load_contract(swagger_file: Path = SWAGGER_FILE) -> LndContract:
    """The contract from the shared swagger and proto (read once per process)."""
    proto = swagger_file.with_name("lightning.proto")
    return LndContract(json.loads(swagger_file.read_text()), proto.read_text() if proto.exists() else "")


def require_contract() -> LndContract:
    """The contract, or skip the calling test when ../shared is absent."""
    if not SWAGGER_FILE.exists():
        pytest.skip(SKIP_REASON)
    return load_contract()


def validate_request(
    method: str, path: str, json_body: Any = None, query: dict[str, Any] | None = None
) -> None:
    """Validate a request our client sends against LND's swagger (ContractError if it does not fit)."""
    require_contract().validate_request(method, path, json_body, query)


def validate_response(method: str, path: str, status: int, json_body: Any) -> None:
    """Validate an answer (status + JSON body) against LND's swagger (ContractError if it does not fit)."""
    require_contract().validate_response(method, path, status, json_body)


def event_hooks(contract: LndContract | None = None) -> dict[str, list[Any]]:
    """`httpx.AsyncClient(event_hooks=...)` that validates every request sent and every answer received."""
    chosen = contract or require_contract()

    async def on_request(request: httpx.Request) -> None:
        query: dict[str, list[str]] = {}
        for key, value in request.url.params.multi_items():
            query.setdefault(key, []).append(value)
        body = json.loads(request.content) if request.content else None
        chosen.validate_request(request.method, request.url.path, body, query)

    async def on_response(response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        chosen.validate_response(request.method, request.url.path, response.status_code, response.content)

    return {"request": [on_request], "response": [on_response]}
