"""`python -m app sandbox lnd`: prints the URL and credential paths, then serves LND's API until stopped."""

from __future__ import annotations

import os
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from app.graph.synthetic import generate_graph_document
from app.serving import free_port
from app.settings import PROJECT_ROOT

FIELDS = {"url", "tls_cert", "admin_macaroon", "readonly_macaroon", "fees_macaroon", "sandbox_token"}


def read_banner(process: subprocess.Popen[str], deadline_s: float = 30.0) -> dict[str, str]:
    assert process.stdout is not None
    printed: dict[str, str] = {}
    started = time.monotonic()
    while not set(printed) >= FIELDS:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(
                f"simulator exited early: {process.wait()} {process.stderr and process.stderr.read()}"
            )
        key, _, value = line.strip().partition(": ")
        printed[key] = value
        assert time.monotonic() - started < deadline_s
    return printed


def test_cli_serves_a_node_with_written_credentials(tmp_path: Path):
    graph_file = tmp_path / "graph.json"
    graph_file.write_bytes(orjson.dumps(generate_graph_document(seed=3, node_count=120, channel_count=360)))
    port, data_dir = free_port(), tmp_path / "lnd"
    command = [sys.executable, "-m", "app", "sandbox", "lnd", "--node", "ACINQ (synthetic)", "--port", str(port),
               "--graph", str(graph_file), "--data-dir", str(data_dir), "--seed", "5"]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        printed = read_banner(process)
        assert printed["url"] == f"https://127.0.0.1:{port}"
        for name in FIELDS - {"url", "tls_cert"}:
            assert stat.S_IMODE(Path(printed[name]).stat().st_mode) == 0o600, name
        context = ssl.create_default_context(cafile=printed["tls_cert"])
        macaroon = Path(printed["fees_macaroon"]).read_bytes().hex()
        with httpx.Client(verify=context, headers={"Grpc-Metadata-macaroon": macaroon}) as client:
            info = client.get(f"{printed['url']}/v1/getinfo").json()
        assert info["alias"] == "ACINQ (synthetic)"
    finally:
        process.terminate()
        process.wait(timeout=10)
