"""Hostile input generated from the service's own OpenAPI: never a 5xx, every refusal in the error shape.

Every field, parameter and body gets what an attacker or a broken client sends. Body strings get NUL,
100,000 characters and emoji; integers -1, 2^63, 2^64, "1" and true (numbers also "NaN"); every body also
goes out at 2 MB and nested 1,000 deep. Path and query parameters get the same strings, the long one at
8,000 characters: a longer request line is refused by the HTTP server (and by nginx) before the app sees it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.api.conftest import ADMIN_KEY, Service, dump, running_service, tenant_with_key

HOSTILE_STRINGS: tuple[Any, ...] = ("nul\u0000byte", "x" * 100_000, "💥🔥\u202e\u200d👨‍👩‍👧")
URL_LONGEST = 8_000
HOSTILE_INTEGERS: tuple[Any, ...] = (-1, 2**63, 2**64, "1", True)
HOSTILE_NUMBERS: tuple[Any, ...] = (-1, 2**64, "1.5", True, "NaN")
METHODS = ("get", "post", "put", "patch", "delete")


def resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Follow $ref and take the first non-null branch of anyOf/oneOf (null is always allowed to be absent)."""
    while True:
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        elif "anyOf" in schema or "oneOf" in schema:
            branches = [b for b in schema.get("anyOf", schema.get("oneOf", [])) if b.get("type") != "null"]
            schema = branches[0]
        else:
            return schema


def hostile_values(schema: dict[str, Any]) -> tuple[Any, ...]:
    """The hostile values for a field of this type."""
    kind = schema.get("type")
    if kind == "integer":
        return HOSTILE_INTEGERS
    if kind == "number":
        return HOSTILE_NUMBERS
    if kind == "boolean":
        return ("true", 1, None)
    return HOSTILE_STRINGS


def field_paths(schema: dict[str, Any], spec: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[
    tuple[tuple[str, ...], dict[str, Any]]
]:  # fmt: skip
    """Every field of a body schema (objects one level down too, like the settings' limits), with its schema."""
    for name, sub in resolve(schema, spec).get("properties", {}).items():
        field = resolve(sub, spec)
        yield (*prefix, name), field
        if field.get("type") == "object" and not prefix:
            yield from field_paths(field, spec, (name,))


def with_value(body: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of `body` with the field at `path` set to `value`."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    target: dict[str, Any] = copy
    for name in path[:-1]:
        target = target.setdefault(name, {})
    target[path[-1]] = value
    return copy


def nested(depth: int) -> str:
    """A JSON document nested `depth` deep."""
    return '{"a":' * depth + "1" + "}" * depth


class Prober:
    """Sends each case and keeps the tally; any 5xx or malformed error is a finding."""

    def __init__(self, service: Service, tenant_key: str) -> None:
        self.service = service
        self.tenant_key = tenant_key
        self.outcomes: Counter[str] = Counter()
        self.findings: list[str] = []

    async def send(self, method: str, url: str, tag: str, **kwargs: Any) -> httpx.Response:
        """One request with the key its route needs; checked for the error shape."""
        key = ADMIN_KEY if tag == "accounts" else self.tenant_key
        async with self.service.client(key) as client:
            response = await client.request(method, url, **kwargs)
        self.outcomes[f"{response.status_code // 100}xx"] += 1
        if response.status_code >= 500:
            self.findings.append(f"{method} {url[:120]} -> {dump(response)[:300]}")
        elif response.status_code >= 400:
            error = response.json().get("error", {})
            if set(error) != {"code", "message", "details"} or not response.headers.get("x-request-id"):
                self.findings.append(f"{method} {url[:120]}: not the error shape: {response.text[:200]}")
        return response


def base_bodies(service: Service) -> dict[tuple[str, str], dict[str, Any]]:
    """A valid body per operation, so each hostile value is the only thing wrong in its request."""
    return {
        ("post", "/api/v1/tenants"): {"name": "hostile-tenant"},
        ("post", "/api/v1/tenants/{tenant_id}/keys"): {"name": "k", "role": "viewer"},
        ("post", "/api/v1/nodes"): service.lnd_registration("hostile-node"),
        ("patch", "/api/v1/nodes/{node_id}"): {"name": "fuzzed"},
        ("put", "/api/v1/nodes/{node_id}/settings"): {"mode": "shadow", "limits": {"daily_cap": 3}},
        ("post", "/api/v1/nodes/{node_id}/optimize"): {"mode": "shadow"},
        ("post", "/api/v1/nodes/{node_id}/rollout"): {"action": "promote", "reason": "r"},
        ("post", "/api/v1/nodes/{node_id}/rollback"): {"to": "2026-11-30T12:00:00Z", "reason": "r"},
        ("post", "/api/v1/transactions/{transaction_id}/rollback"): {"reason": "r"},
    }


async def test_hostile_values_in_every_field_parameter_and_body_never_cost_a_500(
    tmp_path: Path, mongo_url: str, capsys: pytest.CaptureFixture[str]
):
    async with running_service(
        tmp_path, mongo_url, rate_limit_per_second=10_000, auth_failures_per_minute=100_000
    ) as service:
        tenant_id, key = await tenant_with_key(service, "hostile")
        async with service.client(key) as api:
            node_id = (await api.post("/api/v1/nodes", json=service.lnd_registration())).json()["node"]["id"]
            assert (await api.post(f"/api/v1/nodes/{node_id}/sync")).status_code == 200
            chan_id = (await api.get(f"/api/v1/nodes/{node_id}/channels?limit=1")).json()["items"][0][
                "chan_id"
            ]
            spec = (await api.get("/openapi.json")).json()
        real = {"node_id": node_id, "tenant_id": tenant_id, "chan_id": chan_id}
        prober = Prober(service, key)
        bodies = base_bodies(service)
        for path, item in spec["paths"].items():
            for method in METHODS:
                operation = item.get(method)
                if operation is None or not path.startswith("/api/"):
                    continue
                tag = (operation.get("tags") or [""])[0]
                params = operation.get("parameters", [])
                url = path.format(
                    **{p["name"]: real.get(p["name"], "0000") for p in params if p["in"] == "path"}
                )
                for param in params:
                    for value in hostile_values(resolve(param["schema"], spec)):
                        text = (json.dumps(value) if not isinstance(value, str) else value)[:URL_LONGEST]
                        if param["in"] == "path":
                            name = "{" + param["name"] + "}"
                            others = {
                                p["name"]: real.get(p["name"], "0000") for p in params if p["in"] == "path"
                            }
                            target = path.replace(name, quote(text, safe="")).format(**others)
                            await prober.send(method.upper(), target, tag, json=bodies.get((method, path)))
                        elif param["in"] == "query":
                            await prober.send(method.upper(), url, tag, params={param["name"]: text})
                if "requestBody" not in operation:
                    continue
                base = bodies.get((method, path), {})
                schema = operation["requestBody"]["content"]["application/json"]["schema"]
                if "oneOf" in schema:  # node registration: the LND variant, as the base body is
                    schema = {"$ref": "#/components/schemas/LndRegistration"}
                for field, field_schema in field_paths(schema, spec):
                    for value in hostile_values(field_schema):
                        await prober.send(method.upper(), url, tag, json=with_value(base, field, value))
                big = json.dumps({**base, "pad": "x" * 2_100_000})
                too_big = await prober.send(method.upper(), url, tag, content=big)
                assert too_big.status_code == 413, dump(too_big)
                deep = await prober.send(method.upper(), url, tag, content=nested(1_000))
                assert deep.status_code == 400, dump(deep)
        total = sum(prober.outcomes.values())
        with capsys.disabled():  # the counts belong in every run's output, make test's included
            print(f"\nhostile input: {total} requests, {dict(sorted(prober.outcomes.items()))}, no 5xx")
        assert not prober.findings, "\n".join(prober.findings[:20])
        assert total > 350 and prober.outcomes["2xx"] > 0 and prober.outcomes["4xx"] > 0
