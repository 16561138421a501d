"""The nginx site with the real nginx on loopback: TLS with a SAN certificate, redirect, headers, limits."""

from __future__ import annotations

import re
import secrets
import shutil
import socket
import ssl
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.deploy.stack import (
    ADMIN_KEY,
    ApiProcess,
    Nginx,
    generate_certs,
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
SECURITY_HEADERS = (
    "strict-transport-security",
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "permissions-policy",
)


@dataclass
class Proxied:
    """nginx in front of one API process, with the CA that signed nginx's certificate."""

    nginx: Nginx
    api: ApiProcess
    certs: Path
    site: Path

    @property
    def https(self) -> str:
        """The HTTPS base URL by name (the certificate's DNS SAN)."""
        return f"https://localhost:{self.nginx.https_port}"

    def client(self) -> httpx.Client:
        """A client that trusts only our CA."""
        return httpx.Client(verify=ssl.create_default_context(cafile=self.certs / "ca.crt"), timeout=10.0)


def configure_site(prefix: Path, nginx: Nginx, upstreams: str, certs: Path, **settings: str) -> Path:
    """Render the site with scripts/configure_nginx_production.sh into `prefix`; returns the site file."""
    run_script(
        ["bash", "scripts/configure_nginx_production.sh", "--prefix", str(prefix)],
        env={
            "MCP_UPSTREAMS": upstreams,
            "MCP_HTTP_PORT": str(nginx.http_port),
            "MCP_HTTPS_PORT": str(nginx.https_port),
            "MCP_TLS_CERT": str(certs / "server.crt"),
            "MCP_TLS_KEY": str(certs / "server.key"),
            **settings,
        },
    )
    return prefix / "etc" / "nginx" / "sites-available" / "mcp-api.conf"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory, mongo_url: str) -> Iterator[Proxied]:
    """One API process behind nginx, for the whole module."""
    root = tmp_path_factory.mktemp("nginx")
    certs = generate_certs(root / "certs")
    api = ApiProcess(
        service_env(root, mongo_url, None, f"mcp_deploy_{secrets.token_hex(6)}"), root / "api.log"
    )
    nginx = Nginx(root / "prefix")
    site = configure_site(nginx.prefix, nginx, f"127.0.0.1:{api.port}", certs)
    nginx.write_main_conf(site)
    api.start()
    try:
        nginx.start()
        api.wait_ready()
        yield Proxied(nginx, api, certs, site)
    finally:
        nginx.stop()
        api.stop()


def test_nginx_t_passes_without_warnings(proxied):
    output = proxied.nginx.test_config()
    assert "syntax is ok" in output and "test is successful" in output
    assert "[warn]" not in output and "[emerg]" not in output, output


def test_certificates_carry_sans_and_the_right_key_usage(proxied):
    server = x509.load_pem_x509_certificate((proxied.certs / "server.crt").read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    usage = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    client = x509.load_pem_x509_certificate((proxied.certs / "client.crt").read_bytes())
    assert client.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert oct((proxied.certs / "server.key").stat().st_mode & 0o777) == "0o600"


def test_https_reaches_the_api_with_the_security_headers(proxied):
    with proxied.client() as client:
        health = client.get(proxied.https + "/health")
        ready = client.get(proxied.https + "/ready")
        # By address too: the certificate's IP SAN.
        by_ip = client.get(f"https://127.0.0.1:{proxied.nginx.https_port}/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert by_ip.status_code == 200
    for header in SECURITY_HEADERS:
        assert header in ready.headers, f"{header} missing: {dict(ready.headers)}"
    assert "max-age=63072000" in ready.headers["strict-transport-security"]
    assert "frame-ancestors 'none'" in ready.headers["content-security-policy"]
    assert ready.headers["server"] == "nginx", "server_tokens off: no version"
    # nginx's request id reaches the API (which echoes it) and nginx's log: one id across both.
    request_id = ready.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id
    access_log = proxied.nginx.prefix / "var" / "log" / "mcp" / "nginx" / "mcp-api.access.log"
    wait_until(lambda: f"rid={request_id}" in access_log.read_text(), 5, "the access log line")


def test_http_redirects_to_https(proxied):
    answer = httpx.get(f"http://localhost:{proxied.nginx.http_port}/api/v1/nodes?limit=1", timeout=10)
    assert answer.status_code == 301
    assert answer.headers["location"] == f"{proxied.https}/api/v1/nodes?limit=1"


def tls_handshake(port: int, version: ssl.TLSVersion) -> str:
    """Handshake with exactly one protocol version; the negotiated version, or the error."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # TLSv1 and TLSv1_1 are deprecated: exactly what we probe for
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = version
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # our client may offer old protocols; the server decides
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            return str(tls.version())
    except (ssl.SSLError, ConnectionError) as exc:
        return f"refused: {exc}"


def test_only_tls_1_2_and_1_3(proxied):
    port = proxied.nginx.https_port
    assert tls_handshake(port, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert tls_handshake(port, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
    assert tls_handshake(port, ssl.TLSVersion.TLSv1_1).startswith("refused"), "TLS 1.1 must be refused"
    assert tls_handshake(port, ssl.TLSVersion.TLSv1).startswith("refused"), "TLS 1.0 must be refused"


def test_request_size_limit(proxied):
    with proxied.client() as client:
        answer = client.post(proxied.https + "/api/v1/tenants", content=b"x" * (1024 * 1024 + 1))
    assert answer.status_code == 413


def test_dry_run_writes_nothing(tmp_path):
    output = run_script(
        ["bash", "scripts/configure_nginx_production.sh", "--dry-run", "--prefix", str(tmp_path)],
        env={"MCP_UPSTREAMS": "10.0.0.1:8000 10.0.0.2:8000 10.0.0.3:8000"},
    )
    assert output.count("max_fails=2 fail_timeout=5s;") == 3
    assert "return 301 https://$host$request_uri;" in output  # port 443: no suffix
    assert not any(tmp_path.iterdir()), "a dry run must not write"


def test_the_tls_probe_would_see_tls_1_1_if_nginx_allowed_it(tmp_path, proxied):
    # The control for the refusal above: the same probe against an nginx that allows TLS 1.1 gets through,
    # so "refused" is nginx's configuration speaking, not our client's limits.
    control = Nginx(tmp_path / "control")
    site = tmp_path / "control.conf"
    site.write_text(
        f"server {{ listen 127.0.0.1:{control.https_port} ssl; listen 127.0.0.1:{control.http_port};\n"
        f"  ssl_certificate {proxied.certs / 'server.crt'}; ssl_certificate_key {proxied.certs / 'server.key'};\n"
        "  ssl_protocols TLSv1.1 TLSv1.2; ssl_ciphers DEFAULT:@SECLEVEL=0; return 200 'control'; }\n"
    )
    control.write_main_conf(site)
    try:
        control.start()
        assert tls_handshake(control.https_port, ssl.TLSVersion.TLSv1_1) == "TLSv1.1"
    finally:
        control.stop()


def test_https_to_replicas_that_serve_tls_themselves(tmp_path, proxied, mongo_url):
    # As in deploy/mcp-api.nomad: uvicorn serves HTTPS (arguments through the entry point) and nginx checks
    # its certificate against our CA. A second nginx trusting another CA refuses it: the check is real.
    certs = proxied.certs
    api = ApiProcess(
        service_env(tmp_path, mongo_url, None, f"mcp_deploy_{secrets.token_hex(6)}"),
        tmp_path / "api.log",
        extra_args=("--ssl-certfile", str(certs / "server.crt"), "--ssl-keyfile", str(certs / "server.key")),
        tls_ca=certs / "ca.crt",
    )
    other_ca = generate_certs(tmp_path / "other-ca")
    trusting, distrusting = Nginx(tmp_path / "trusting"), Nginx(tmp_path / "distrusting")
    for nginx, ca in ((trusting, certs / "ca.crt"), (distrusting, other_ca / "ca.crt")):
        site = configure_site(
            nginx.prefix,
            nginx,
            f"127.0.0.1:{api.port}",
            certs,
            MCP_UPSTREAM_CA=str(ca),
            MCP_UPSTREAM_TLS_NAME="localhost",
        )
        nginx.write_main_conf(site)
        assert "proxy_pass https://mcp_api;" in site.read_text()
    try:
        api.start()
        trusting.start()
        distrusting.start()
        api.wait_ready()
        with httpx.Client(verify=ssl.create_default_context(cafile=certs / "ca.crt"), timeout=10) as client:
            served = client.get(f"https://localhost:{trusting.https_port}/ready")
            refused = client.get(f"https://localhost:{distrusting.https_port}/ready")
    finally:
        for nginx in (trusting, distrusting):
            nginx.stop()
        api.stop()
    assert served.status_code == 200 and served.json()["status"] == "ready"
    assert refused.status_code == 502
    assert (
        "upstream SSL certificate verify error"
        in distrusting.error_log()
        + (distrusting.prefix / "var" / "log" / "mcp" / "nginx" / "mcp-api.error.log").read_text()
    )


def test_websocket_upgrade_reaches_the_api(proxied):
    # The API has no WebSocket route yet (and no WebSocket library), but uvicorn says when an upgrade
    # request reaches it: so the Upgrade and Connection headers made it through nginx.
    def upgrades() -> int:
        return int(proxied.api.log().count("Unsupported upgrade request"))

    before = upgrades()
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    with proxied.client() as client:
        client.get(proxied.https + "/health")
        assert upgrades() == before, "a plain request is no upgrade"
        client.get(proxied.https + "/health", headers=upgrade)
    wait_until(lambda: upgrades() > before, 5, "the upgrade request at the API")


def test_dashboard_forms_pass_the_origin_check_on_a_port_other_than_443(proxied):
    """A browser names https://host:port as a form's Origin: behind nginx the app must see that host:port."""
    base = proxied.https  # nginx listens on a free port, never 443 here
    with proxied.client() as client:
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        tenant = client.post(base + "/api/v1/tenants", headers=admin, json={"name": "behind-nginx"})
        assert tenant.status_code == 201, tenant.text
        issued = client.post(
            f"{base}/api/v1/tenants/{tenant.json()['id']}/keys",
            headers=admin,
            json={"name": "k", "role": "viewer"},
        )
        assert issued.status_code == 201, issued.text

        def sign_in(origin: str) -> httpx.Response:
            """Post the login form as a browser on `origin` would (its own cookie and token)."""
            client.cookies.clear()
            form = client.get(base + "/dashboard/login")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert form.status_code == 200 and token is not None
            policies = {
                value.strip() for value in ",".join(form.headers.get_list("referrer-policy")).split(",")
            }
            assert policies == {"same-origin"}, policies  # no-referrer would make a browser send Origin: null
            answer: httpx.Response = client.post(
                base + "/dashboard/login",
                data={"csrf": token.group(1), "api_key": issued.json()["key"]},
                headers={"Origin": origin},
            )
            return answer

        accepted = sign_in(base)
        assert accepted.status_code == 303, accepted.text
        assert accepted.headers["location"].startswith("/dashboard")
        refused = sign_in("https://evil.example")
        assert refused.status_code == 403 and "not from this dashboard" in refused.text
