"""A worker process the service owns leaves Ctrl-C to the service and stops with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

# The service's graph pool as uvicorn drives it: Ctrl-C raises KeyboardInterrupt in the parent, which
# then shuts the pool down. The worker has run its initializer (it answered) and waits for work, as it
# does for most of a service's life.
SERVICE = """
import os, signal
from app.main import graph_workers
pool = graph_workers()
try:  # from here on Ctrl-C is expected: the test sends it as soon as it reads the worker's pid
    print(pool.submit(os.getpid).result(), flush=True)
    signal.pause()
except KeyboardInterrupt:
    pool.shutdown(wait=True)
    print("stopped", flush=True)
"""


def test_ctrl_c_stops_the_service_s_worker_without_a_traceback():
    service = subprocess.Popen(
        [sys.executable, "-c", SERVICE],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert service.stdout is not None
    worker = int(service.stdout.readline())
    os.killpg(service.pid, signal.SIGINT)  # a terminal sends Ctrl-C to the whole foreground group
    out, err = service.communicate(timeout=60)
    assert out == "stopped\n" and service.returncode == 0
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert not alive(worker)


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


# Ctrl-C while the worker is still starting: its interpreter is up (Ctrl-C would raise in it) but its
# initializer has not run. A sitecustomize holds the worker there, only in processes started with the
# variable the service sets before it starts its pool.
SLOW_START = """
import os, pathlib, time
if os.environ.get("MCP_TEST_SLOW_START"):
    pathlib.Path(os.environ["MCP_TEST_SLOW_START"]).touch()
    time.sleep(2)
"""
EARLY = """
import os, pathlib, signal, sys, time
from app.main import graph_workers
from app.parent_watch import sigint_blocked
marker = pathlib.Path(sys.argv[1])
os.environ["MCP_TEST_SLOW_START"] = str(marker)
pool = graph_workers()
try:
    with sigint_blocked():
        future = pool.submit(os.getpid)
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(0, signal.SIGINT)
    print(future.result(), flush=True)
    signal.pause()
except KeyboardInterrupt:
    pool.shutdown(wait=True)
    print("stopped", flush=True)
"""


def test_ctrl_c_while_the_worker_starts_is_no_traceback_either(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(SLOW_START)
    marker = tmp_path / "worker-started"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
    }
    service = subprocess.Popen(
        [sys.executable, "-c", EARLY, str(marker)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env=env,
    )  # fmt: skip
    out, err = service.communicate(timeout=60)
    assert marker.exists(), "the worker never started"
    assert out.endswith("stopped\n") and service.returncode == 0, (out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
