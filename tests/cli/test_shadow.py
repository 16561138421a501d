"""The shadow command end to end, as an operator runs it (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from tests.conftest import requires_real_graph
from tests.factories import graph_document, pubkey

PROJECT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env=env,
        check=False,
    )


@requires_real_graph
def test_acinq_json_has_every_channel_and_a_consistent_summary():
    result = run_cli("shadow", "--node", "ACINQ", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["node"]["alias"] == "ACINQ"
    assert document["node"]["simulated"] is True
    channels = document["channels"]
    assert len(channels) == 1_989
    entry = channels[0]
    assert {"chan_id", "decision", "scores", "validation"} <= set(entry)
    assert set(entry["scores"]) == {
        "centrality", "liquidity", "activity", "competitiveness",
        "reliability", "age_stability", "peer_quality", "network_position",
    }  # fmt: skip
    assert {"kind", "confidence", "current_policy", "proposed_policy", "reasons"} <= set(entry["decision"])
    summary = document["summary"]
    assert summary["channels"] == 1_989
    assert sum(summary["decisions"].values()) == 1_989
    assert summary["verdicts"]["approved"] == 5  # the default daily cap, filled by the most confident
    # progress and timings go to stderr only
    assert "computing centrality" in result.stderr
    assert "total" in result.stderr


@requires_real_graph
def test_shadow_run_is_deterministic(tmp_path):
    first = run_cli("shadow", "--node", "ACINQ", "--json", "--seed", "3")
    second = run_cli("shadow", "--node", "ACINQ", "--json", "--seed", "3")
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout


def test_table_output_and_summary(tmp_path):
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(
        json.dumps(graph_document([("hub", f"peer{i}", 2_000_000, 100 + i, 50) for i in range(12)]))
    )
    result = run_cli("shadow", "--node", "hub", "--graph", str(graph_file), "--profile", "conservative")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "profile conservative" in lines[0]
    assert "SIMULATED" in lines[0]
    assert lines[2].split()[:4] == ["scid", "peer", "local", "fee"]
    assert sum(1 for line in lines if "peer" in line and "x" in line.split()[0]) == 12
    assert any(line.startswith("decisions: ") for line in lines)
    assert any(line.startswith("rejections by code: ") for line in lines)


def test_missing_configured_graph_falls_back_to_synthetic_and_says_so():
    env = {"MCP_GRAPH_FILE": "/nonexistent/graph.json.gz", "PATH": "/usr/bin:/bin"}
    result = run_cli("shadow", "--node", "Kraken", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert "SYNTHETIC graph" in result.stderr
    document = json.loads(result.stdout)
    assert document["node"]["synthetic_graph"] is True
    assert len(document["channels"]) == 1_206


def test_explicit_missing_graph_file_is_an_error(capsys):
    assert main(["shadow", "--node", "x", "--graph", "/nonexistent.json"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_unknown_and_ambiguous_nodes_are_clear_errors(tmp_path, capsys):
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(json.dumps(graph_document([("alpha-1", "alpha-2", 1000, 1, 1)])))
    assert main(["shadow", "--node", "beta", "--graph", str(graph_file)]) == 2
    assert "no node with pubkey or alias 'beta'" in capsys.readouterr().err
    assert main(["shadow", "--node", "alpha", "--graph", str(graph_file)]) == 2
    err = capsys.readouterr().err
    assert "2 nodes match 'alpha'" in err
    assert pubkey("alpha-1") in err


def test_unknown_profile_is_a_clear_error(tmp_path, capsys):
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(json.dumps(graph_document([("a", "b", 1000, 1, 1)])))
    assert main(["shadow", "--node", "a", "--graph", str(graph_file), "--profile", "yolo"]) == 2
    assert "unknown profile 'yolo'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["shadow"], ["nope"]])
def test_bad_arguments_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "usage:" in capsys.readouterr().err
