"""TLS: a self-signed certificate with SANs that clients pin as their CA, like LND's tls.cert."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from app.sandbox.lnd.node import SimulatedNode
from app.sandbox.lnd.server import running_simulator
from app.sandbox.lnd.tls import covers, write_certificate


def test_certificate_has_sans_and_no_common_name(tmp_path: Path):
    files = write_certificate(tmp_path, hosts=["node.example"])
    cert = x509.load_pem_x509_certificate(files.cert_pem)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {"localhost", "node.example"}
    assert set(sans.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME) == []
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert stat.S_IMODE(files.key_path.stat().st_mode) == 0o600


def test_existing_certificate_is_reused_only_when_it_covers_the_hosts(tmp_path: Path):
    first = write_certificate(tmp_path)
    assert write_certificate(tmp_path).cert_pem == first.cert_pem
    assert covers(first.cert_pem, ["localhost"]) and not covers(first.cert_pem, ["10.0.0.7"])
    assert write_certificate(tmp_path, hosts=["10.0.0.7"]).cert_pem != first.cert_pem


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_client_trusting_the_cert_verifies_the_hostname(node: SimulatedNode, host: str):
    async with running_simulator(node, tls=True) as sim:
        assert sim.cert_pem is not None and sim.url.startswith("https://")
        url = sim.url.replace("127.0.0.1", host)
        context = ssl.create_default_context(cadata=sim.cert_pem.decode())
        headers = {"Grpc-Metadata-macaroon": sim.macaroon_hex}
        async with httpx.AsyncClient(verify=context, headers=headers) as client:
            assert (await client.get(f"{url}/v1/getinfo")).status_code == 200


async def test_client_without_the_cert_fails_verification(node: SimulatedNode):
    async with running_simulator(node, tls=True) as sim, httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(f"{sim.url}/v1/getinfo")
