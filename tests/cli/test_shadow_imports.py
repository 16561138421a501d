"""`shadow` loads only what it uses: no web, database or graph-algorithm libraries once the cache is warm."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from app.graph.synthetic import generate_graph_document

PROJECT = Path(__file__).resolve().parents[2]
HEAVY = ("fastapi", "pymongo", "redis", "networkit", "networkx", "scipy")
RUN_AND_LIST_IMPORTS = (
    "import sys\n"
    "from app.cli import main\n"
    "code = main(sys.argv[1:])\n"
    f"print(sorted(name for name in {HEAVY!r} if name in sys.modules), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def shadow_imports(graph: Path, data_dir: Path) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            RUN_AND_LIST_IMPORTS,
            "shadow",
            "--node",
            "synthetic-node-00018",
            "--graph",
            str(graph),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env={**os.environ, "MCP_DATA_DIR": str(data_dir)},
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["summary"]["channels"] > 0
    return result.stderr.strip().splitlines()[-1]


def test_a_warm_shadow_run_imports_no_heavy_library(tmp_path):
    graph = tmp_path / "graph.json"
    graph.write_bytes(orjson.dumps(generate_graph_document(seed=2, node_count=400, channel_count=1_200)))
    cold = shadow_imports(graph, tmp_path / "data")
    assert "networkit" in cold  # the first run computes centrality (and proves the check can see imports)
    assert shadow_imports(graph, tmp_path / "data") == "[]"
