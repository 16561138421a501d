"""`sandbox lnd` by hand beside the demo: its own default folder, and never a folder another simulator holds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from app.cli import main
from app.cli.sandbox_folder import STANDALONE_FOLDER, claim_folder, default_folder
from app.errors import ConfigError
from app.graph.synthetic import generate_graph_document
from app.serving import free_port
from app.settings import Settings
from tests.sandbox.lnd.test_cli import read_banner


@pytest.fixture
def graph_file(tmp_path: Path) -> Path:
    """A small synthetic graph with an `ACINQ (synthetic)` node."""
    path = tmp_path / "graph.json"
    path.write_bytes(orjson.dumps(generate_graph_document(seed=3, node_count=120, channel_count=360)))
    return path


def simulator(graph_file: Path, *extra: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """`python -m app sandbox lnd` on a free port, in the test's directory."""
    command = [sys.executable, "-m", "app", "sandbox", "lnd", "--node", "ACINQ (synthetic)",
               "--port", str(free_port()), "--graph", str(graph_file), *extra]  # fmt: skip
    return subprocess.Popen(
        command, cwd=graph_file.parent, env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM and wait (uvicorn stops gracefully)."""
    process.terminate()
    process.wait(timeout=30)


def environment(tmp_path: Path) -> dict[str, str]:
    """The environment of a second terminal: MCP_DATA_DIR of the project, no MCP_SANDBOX_LND_DIR."""
    env = {key: value for key, value in os.environ.items() if key != "MCP_SANDBOX_LND_DIR"}
    return {**env, "MCP_DATA_DIR": str(tmp_path / "data")}


def test_without_data_dir_the_simulator_writes_to_a_folder_of_its_own(tmp_path: Path, graph_file: Path):
    process = simulator(graph_file, env=environment(tmp_path))
    try:
        printed = read_banner(process)
    finally:
        stop(process)
    own = (tmp_path / "data" / STANDALONE_FOLDER).resolve()
    credentials = {name: Path(path) for name, path in printed.items() if name != "url"}
    assert credentials and all(path.parent == own for path in credentials.values()), printed
    demo_folder = Settings().sandbox_lnd_dir  # data/sandbox-lnd, where make run's demo keeps its node's files
    assert all(demo_folder not in path.parents for path in credentials.values())


def test_the_default_folder_is_the_configured_one_only_when_configured(tmp_path: Path):
    assert default_folder(Settings(data_dir=tmp_path)) == tmp_path / STANDALONE_FOLDER
    assert default_folder(Settings()) != Settings().sandbox_lnd_dir
    configured = Settings(sandbox_lnd_dir=tmp_path / "mine")
    assert default_folder(configured) == tmp_path / "mine"


def test_a_folder_held_by_a_running_simulator_is_refused_and_left_untouched(tmp_path: Path, graph_file: Path):
    env, folder = environment(tmp_path), tmp_path / "demo-sandbox"
    first = simulator(graph_file, "--data-dir", str(folder), env=env)
    try:
        printed = read_banner(first)
        files_before = {path.name: path.read_bytes() for path in folder.iterdir()}
        second = simulator(graph_file, "--data-dir", str(folder), env=env)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2, err
        assert f"{folder} belongs to a running LND simulator (pid {first.pid}" in err
        assert "pass --data-dir" in err
        assert {path.name: path.read_bytes() for path in folder.iterdir()} == files_before
        assert Path(printed["sandbox_token"]).read_bytes() == files_before["sandbox.token"]
    finally:
        stop(first)
    # The claim ends with the process that held it: the folder can be served again at once.
    again = simulator(graph_file, "--data-dir", str(folder), env=env)
    try:
        read_banner(again)
    finally:
        stop(again)


def test_claims_exclude_each_other_until_released(tmp_path: Path):
    with (
        claim_folder(tmp_path / "lnd"),
        pytest.raises(ConfigError) as refused,
        claim_folder(tmp_path / "lnd"),
    ):
        pass
    assert refused.value.details == {"data_dir": str(tmp_path / "lnd"), "pid": str(os.getpid())}
    with claim_folder(tmp_path / "lnd"):
        pass


def test_help_tells_the_default_folder(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        main(["sandbox", "lnd", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "never the demo's data/sandbox-lnd" in text and STANDALONE_FOLDER in text
