"""Benchmark `python -m app shadow --json` against a bare parse of the same graph file, in one run.

Usage: .venv/bin/python scripts/bench_shadow.py [--node ACINQ] [--repeat 5] [--graph FILE]

Both are timed as fresh subprocesses (interpreter start-up included), alternately, so a busy shared machine
slows both alike; the figure that matters is the ratio of their medians. The bare baseline is
`python -c` that reads the file, gunzips it and parses the JSON with orjson, nothing else. The shadow
command runs against a data directory of its own: the first (cold) run parses the graph and computes
centrality and fills the cache (<data_dir>/cache/), every later (warm) run reads them from it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.settings import DEFAULT_GRAPH_FILE

BARE_PARSE = (
    "import gzip, sys, orjson\n"
    "raw = open(sys.argv[1], 'rb').read()\n"
    "orjson.loads(gzip.decompress(raw) if sys.argv[1].endswith('.gz') else raw)\n"
)


def wall_time(command: list[str], env: dict[str, str]) -> float:
    """Seconds one subprocess takes from start to exit; its output is discarded, a failure stops the bench."""
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def describe(label: str, times: list[float]) -> float:
    """Print the median and spread of some timings; return the median."""
    median = statistics.median(times)
    print(f"{label:<52} {median:6.2f} s  (min {min(times):.2f}, max {max(times):.2f}, n={len(times)})")
    return median


def main() -> int:
    """Print the timings and the ratio."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--node", default="ACINQ")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--graph", type=Path, default=DEFAULT_GRAPH_FILE)
    args = parser.parse_args()
    if not args.graph.exists():
        print(f"graph file {args.graph} not found: this benchmark needs the public snapshot", file=sys.stderr)
        return 1
    python = sys.executable
    bare = [python, "-c", BARE_PARSE, str(args.graph)]
    shadow = [python, "-m", "app", "shadow", "--node", args.node, "--graph", str(args.graph), "--json"]
    data_dir = Path(tempfile.mkdtemp(prefix="bench-shadow-"))
    env = {**os.environ, "MCP_DATA_DIR": str(data_dir)}
    try:
        print(
            f"graph {args.graph}; shadow --node {args.node}; cache in {data_dir}/cache (removed at the end)"
        )
        cold = wall_time(shadow, env)
        print(f"{'shadow, cold cache (parse + centrality + fill cache)':<52} {cold:6.2f} s")
        bare_times, shadow_times = [], []
        for _ in range(args.repeat):
            bare_times.append(wall_time(bare, env))
            shadow_times.append(wall_time(shadow, env))
        baseline = describe("bare python -c: read + gunzip + orjson.loads", bare_times)
        warm = describe(f"python -m app shadow --node {args.node} --json (warm)", shadow_times)
        print(f"{'ratio shadow / bare parse (target <= 3.0)':<52} {warm / baseline:6.2f} x")
        print(f"{'ratio cold shadow / bare parse':<52} {cold / baseline:6.2f} x")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(
        "\nnext: .venv/bin/python scripts/bench_engine.py   # channels per second of score + decide + validate"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
