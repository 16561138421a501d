"""The Grafana dashboard and the Prometheus rules name only metrics the service exports and rules it records."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import app.main  # noqa: F401  (imports every module that defines a metric)
from app.settings import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "config"
METRIC = re.compile(r"\b(mcp_[a-z_]+)")
RECORDED = re.compile(r"\b(mcp:[a-z0-9_:]+)")
SERIES_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def exported_families() -> set[str]:
    """Every metric family name in the registry, as Prometheus sees it (counters with `_total`)."""
    names: set[str] = set()
    for family in REGISTRY.collect():  # a labelled family without children yet has no samples: add its series
        names.add(family.name)
        names.update(family.name + suffix for suffix in SERIES_SUFFIXES.get(family.type, ()))
    return names


def expressions() -> dict[str, list[str]]:
    """PromQL of the dashboard's panels and of every rule, by file."""
    dashboard = json.loads((CONFIG / "grafana" / "control-plane.json").read_text())
    found = {"grafana": [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]}
    for path in sorted((CONFIG / "prometheus").glob("*.yml")):
        rules = yaml.safe_load(path.read_text())
        found[path.name] = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    return found


def recorded_names() -> set[str]:
    """Names the recording rules define."""
    rules = yaml.safe_load((CONFIG / "prometheus" / "recording.yml").read_text())
    return {rule["record"] for group in rules["groups"] for rule in group["rules"]}


def test_every_metric_the_dashboard_and_rules_use_is_exported_by_the_service():
    exported = exported_families()
    used = {name for exprs in expressions().values() for expr in exprs for name in METRIC.findall(expr)}
    assert len(used) >= 15, used
    missing = sorted(name for name in used if name not in exported)
    assert missing == [], f"not exported by the service: {missing}"


def test_every_recorded_series_the_dashboard_and_rules_use_is_recorded():
    recorded = recorded_names()
    used = {name for exprs in expressions().values() for expr in exprs for name in RECORDED.findall(expr)}
    assert used and used <= recorded, sorted(used - recorded)


def test_the_dashboard_has_unique_panel_ids_and_reads_from_its_datasource_variable():
    dashboard = json.loads(Path(CONFIG / "grafana" / "control-plane.json").read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
