"""Three API replicas behind the real nginx, sharing one Mongo-wire server and one Redis, on loopback."""

from __future__ import annotations

import re
import secrets
import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.deploy.stack import (
    ApiProcess,
    Nginx,
    RequestLoop,
    SimulatorThread,
    generate_certs,
    register_node,
    run_script,
    service_env,
    wait_until,
)

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.skipif(
        shutil.which("nginx") is None, reason="nginx is not installed (make test-deploy installs it)"
    ),
]
TICK = re.compile(r"scheduled cycles: (\d+) ran, (\d+) skipped, (\d+) unreachable, (\d+) failed")
INTERVAL_S = 60  # the shortest schedule the settings allow


@dataclass
class Cluster:
    """The replicas, nginx in front, and the node they all schedule."""

    replicas: list[ApiProcess]
    spare: ApiProcess
    nginx: Nginx
    certs: Path
    key: str
    node_id: str

    @property
    def url(self) -> str:
        """The public HTTPS URL."""
        return f"https://localhost:{self.nginx.https_port}"

    def tls(self) -> ssl.SSLContext:
        """Trust our CA only."""
        return ssl.create_default_context(cafile=self.certs / "ca.crt")

    def access_log(self) -> list[str]:
        """nginx's access log lines."""
        path = self.nginx.prefix / "var" / "log" / "mcp" / "nginx" / "mcp-api.access.log"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, mongo_url: str, redis_url: str) -> Iterator[Cluster]:
    """Three replicas with the scheduler on (no jitter) and a spare without it, nginx over all four, a node.

    The spare is the one killed: the scheduled three keep their first period intact for the scheduler test,
    which waits for it meanwhile (the shortest allowed period is 60 s).
    """
    root = tmp_path_factory.mktemp("replicas")
    certs = generate_certs(root / "certs")
    env = service_env(
        root,
        mongo_url,
        redis_url,
        f"mcp_deploy_{secrets.token_hex(6)}",
        MCP_SCHEDULE_ENABLED="true",
        MCP_SCHEDULE_INTERVAL_S=str(INTERVAL_S),
        MCP_SCHEDULE_JITTER_S="0",
        MCP_REQUEST_DEADLINE_S="120",
    )
    replicas = [ApiProcess(env, root / f"replica-{index}.log") for index in range(3)]
    spare = ApiProcess({**env, "MCP_SCHEDULE_ENABLED": "false"}, root / "spare.log")
    nginx = Nginx(root / "prefix")
    run_script(
        ["bash", "scripts/configure_nginx_production.sh", "--prefix", str(nginx.prefix)],
        env={
            "MCP_UPSTREAMS": " ".join(f"127.0.0.1:{replica.port}" for replica in [*replicas, spare]),
            "MCP_HTTP_PORT": str(nginx.http_port),
            "MCP_HTTPS_PORT": str(nginx.https_port),
            "MCP_TLS_CERT": str(certs / "server.crt"),
            "MCP_TLS_KEY": str(certs / "server.key"),
        },
    )
    nginx.write_main_conf(nginx.prefix / "etc" / "nginx" / "sites-available" / "mcp-api.conf")
    with SimulatorThread() as simulator:
        try:
            for replica in [*replicas, spare]:
                replica.start()
            nginx.start()
            for replica in [*replicas, spare]:
                replica.wait_ready(timeout_s=90)
            key, node_id = register_node(replicas[0].url, root, simulator)
            yield Cluster(replicas, spare, nginx, certs, key, node_id)
        finally:
            nginx.stop()
            for replica in [*replicas, spare]:
                replica.stop()


def test_sigkill_of_a_replica_under_load_fails_no_request(cluster):
    victim = cluster.spare
    victim_address = f"127.0.0.1:{victim.port}"
    with RequestLoop(cluster.url + "/ready", verify=cluster.tls()) as loop:
        wait_until(lambda: loop.total >= 50, 30, "requests before the kill")
        logged_before = len(cluster.access_log())
        before = loop.total
        victim.kill()
        wait_until(lambda: loop.total >= before + 200, 60, "requests after the kill")
    after_kill = cluster.access_log()[logged_before:]
    retried = sum(1 for line in after_kill if re.search(rf"upstream=\S*{re.escape(victim_address)}, ", line))
    print(
        f"\nreplica SIGKILL under load ({loop.total - before} requests after the kill, {retried} of them retried "
        f"on another replica by nginx): {loop.summary()}"
    )
    assert not loop.failures, loop.failures[:5]


def test_scheduler_runs_the_node_once_per_period_across_replicas(cluster):
    def ticked(replica: ApiProcess) -> re.Match[str] | None:
        return TICK.search(replica.log())

    wait_until(
        lambda: all(ticked(replica) for replica in cluster.replicas), INTERVAL_S + 60, "every replica's tick"
    )
    passes = [ticked(replica) for replica in cluster.replicas]
    ran = sum(int(p.group(1)) + int(p.group(4)) for p in passes if p)
    skipped = sum(int(p.group(2)) for p in passes if p)
    print(f"\nscheduler, first period of {INTERVAL_S} s: " + "; ".join(p.group(0) for p in passes if p))
    assert (ran, skipped) == (1, 2), "one replica runs the node, the other two see its lease"


def test_rolling_restart_loses_nothing(cluster):
    # A gentler loop than the kill test's: restarts on two shared cores are slow enough already.
    with RequestLoop(cluster.url + "/ready", verify=cluster.tls(), interval_s=0.03) as loop:
        wait_until(lambda: loop.total >= 20, 30, "requests before the restart")
        for replica in cluster.replicas:
            code, _ = replica.terminate()
            assert code in (0, -15), replica.log()[-2000:]
            logged = len(cluster.access_log())
            replica.start().wait_ready(timeout_s=90)
            # The operator's rule: the next replica goes only once nginx sends this one requests again.
            answered = re.compile(rf'" 200 .*upstream=(?:\S+, )*127\.0\.0\.1:{replica.port} rid=')
            wait_until(
                lambda: any(answered.search(line) for line in cluster.access_log()[logged:]),  # noqa: B023
                30,
                f"nginx to send requests to the restarted replica on port {replica.port}",
            )
        restarted_at = loop.total
        wait_until(lambda: loop.total >= restarted_at + 20, 30, "requests after the restart")
    print(
        "\nrolling restart of the 3 scheduled replicas (the killed spare still in nginx's pool): "
        f"{loop.summary()}"
    )
    assert not loop.failures, loop.failures[:5]
    with httpx.Client(verify=cluster.tls(), timeout=10) as client:
        node = client.get(
            f"{cluster.url}/api/v1/nodes/{cluster.node_id}",
            headers={"Authorization": f"Bearer {cluster.key}"},
        )
    assert node.status_code == 200 and node.json()["id"] == cluster.node_id
