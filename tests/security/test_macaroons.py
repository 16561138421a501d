"""LND macaroons: every input encoding, mint/parse/verify, forgery, malformed input, warnings, `inspect-macaroon`."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cli import main
from app.errors import InvalidInputError
from app.security.macaroons import (
    REQUIRED_PERMISSIONS,
    macaroon_bytes,
    mint_macaroon,
    parse_macaroon,
    verify_macaroon,
)
from tests.security import leaked

ROOT_KEY = bytes(range(32))
FEE_PERMISSIONS = {"info": ["read"], "offchain": ["read", "write"]}
ADMIN_PERMISSIONS = {
    "address": ["read", "write"],
    "info": ["read", "write"],
    "macaroon": ["generate", "read", "write"],
    "offchain": ["read", "write"],
    "onchain": ["read", "write"],
}
RAW = mint_macaroon(ROOT_KEY, FEE_PERMISSIONS, nonce=b"\x07" * 24)
ADMIN = mint_macaroon(ROOT_KEY, ADMIN_PERMISSIONS, nonce=b"\x09" * 24)


def v2_macaroon(identifier: bytes, caveats: tuple[bytes, ...], root_key: bytes) -> bytes:
    """A v2 macaroon built by hand from the libmacaroons rules, independently of `mint_macaroon`."""

    def field(kind: int, data: bytes) -> bytes:
        assert len(data) < 128  # one-byte varint
        return bytes([kind, len(data)]) + data

    signature = hmac.new(
        hmac.new(b"macaroons-key-generator", root_key, hashlib.sha256).digest(), identifier, "sha256"
    )
    body = bytes([2]) + field(1, b"elsewhere") + field(2, identifier) + b"\x00"
    for caveat in caveats:
        body += field(2, caveat) + b"\x00"
        signature = hmac.new(signature.digest(), caveat, hashlib.sha256)
    return body + b"\x00" + field(6, signature.digest())


def test_mint_parse_verify_round_trip():
    macaroon = verify_macaroon(RAW, ROOT_KEY)
    assert macaroon.location == "lnd" and macaroon.caveats == ()
    assert macaroon.permissions == REQUIRED_PERMISSIONS == {"info:read", "offchain:read", "offchain:write"}
    assert parse_macaroon(RAW) == macaroon
    assert macaroon.warnings() == [] and not macaroon.is_admin_like


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda raw: raw.hex(), id="hex"),
        pytest.param(lambda raw: raw.hex().upper() + "\n", id="hex-upper-newline"),
        pytest.param(lambda raw: base64.b64encode(raw).decode(), id="base64"),
        pytest.param(lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("="), id="url-safe-unpadded"),
        pytest.param(lambda raw: raw, id="raw-bytes"),
        pytest.param(lambda raw: raw.hex().encode(), id="hex-as-bytes"),
    ],
)
def test_macaroon_bytes_accepts_every_encoding(encode):
    assert macaroon_bytes(encode(RAW)) == RAW


@pytest.mark.parametrize(
    "content",
    [RAW, RAW.hex().encode() + b"\n", base64.b64encode(RAW) + b"\r\n"],
    ids=["binary", "hex", "base64"],
)
def test_macaroon_bytes_reads_files(tmp_path, content):
    path = tmp_path / "fee.macaroon"
    path.write_bytes(content)
    assert macaroon_bytes(path) == RAW


def test_caveat_chain_and_foreign_identifier_verify():
    raw = v2_macaroon(
        b"plain identifier", (b"time-before 2030-01-01T00:00:00Z", b"ipaddr 127.0.0.1"), ROOT_KEY
    )
    macaroon = verify_macaroon(raw, ROOT_KEY)
    assert macaroon.location == "elsewhere" and len(macaroon.caveats) == 2
    assert macaroon.permissions is None and macaroon.missing_permissions() == frozenset()
    assert macaroon.warnings() == []
    dropped_caveat = v2_macaroon(b"plain identifier", (b"ipaddr 127.0.0.1",), ROOT_KEY)[:-32] + raw[-32:]
    with pytest.raises(InvalidInputError, match="does not verify"):
        verify_macaroon(dropped_caveat, ROOT_KEY)


def test_forged_signatures_are_rejected():
    with pytest.raises(InvalidInputError, match="does not verify"):
        verify_macaroon(RAW, bytes(32))
    flipped = RAW[:-1] + bytes([RAW[-1] ^ 1])
    with pytest.raises(InvalidInputError, match="does not verify"):
        verify_macaroon(flipped, ROOT_KEY)
    # The admin macaroon's identifier under the fee macaroon's signature: an escalation attempt.
    escalated = ADMIN[:-32] + RAW[-32:]
    with pytest.raises(InvalidInputError, match="does not verify"):
        verify_macaroon(escalated, ROOT_KEY)


def test_every_truncation_is_invalid_input_without_the_secret():
    for length in range(len(RAW)):
        with pytest.raises(InvalidInputError) as caught:
            parse_macaroon(RAW[:length])
        assert not leaked(str(caught.value), RAW, RAW[: max(length, 8)])


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=8, max_size=200))
def test_garbage_bytes_never_crash_and_never_echo(data):
    try:
        parse_macaroon(data)
    except InvalidInputError as exc:
        assert not leaked(f"{exc} {exc.details}", data)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=8, max_size=200))
def test_garbage_text_never_crashes_and_never_echoes(text):
    try:
        parse_macaroon(macaroon_bytes(text))
    except InvalidInputError as exc:
        secret_like = text.strip()
        # Our fixed messages contain plain words ("macaroon format ..."): only text that could be key
        # material (it has a digit, as hex or base64 of 6+ bytes practically always does) must not appear.
        if len(secret_like) >= 8 and any(char.isdigit() for char in secret_like):
            assert secret_like not in str(exc)


@pytest.mark.parametrize("value", ["", "   ", "zz-not-a-macaroon-$$", b""])
def test_unusable_text_is_invalid_input(value):
    with pytest.raises(InvalidInputError) as caught:
        parse_macaroon(macaroon_bytes(value))
    if isinstance(value, str) and value.strip():
        assert value not in str(caught.value)


def test_unreadable_file_is_invalid_input(tmp_path):
    with pytest.raises(InvalidInputError, match="cannot read macaroon file"):
        macaroon_bytes(tmp_path / "absent.macaroon")


def test_admin_macaroon_gets_a_warning():
    macaroon = parse_macaroon(ADMIN)
    assert macaroon.is_admin_like
    [warning] = macaroon.warnings()
    assert "admin-level" in warning and "lncli bakemacaroon info:read offchain:read offchain:write" in warning


def test_missing_permissions_get_a_warning():
    macaroon = parse_macaroon(mint_macaroon(ROOT_KEY, {"info": ["read"], "offchain": ["read"]}, b"r" * 24))
    assert macaroon.missing_permissions() == {"offchain:write"}
    assert macaroon.warnings() == ["the macaroon lacks offchain:write: some operations will fail"]


def test_cli_inspect_file_prints_permissions_but_never_the_macaroon(tmp_path, capsys):
    path = tmp_path / "fee.macaroon"
    path.write_bytes(RAW)
    path.chmod(0o600)
    assert main(["vault", "inspect-macaroon", "--file", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "permissions: info:read, offchain:read, offchain:write" in out and "location: lnd" in out
    assert "warning" not in out
    assert not leaked(out + err, RAW, RAW[-32:])
    path.chmod(0o644)
    assert main(["vault", "inspect-macaroon", "--file", str(path)]) == 0
    assert f"warning: {path} is readable by other users; run: chmod 600 {path}" in capsys.readouterr().out


def test_cli_inspect_env_warns_about_admin_macaroons(monkeypatch, capsys):
    monkeypatch.setenv("TEST_LND_MACAROON", ADMIN.hex())
    assert main(["vault", "inspect-macaroon", "--hex-env", "TEST_LND_MACAROON"]) == 0
    out, err = capsys.readouterr()
    assert "macaroon: $TEST_LND_MACAROON" in out and "onchain:write" in out
    assert "warning: an admin-level macaroon" in out
    assert not leaked(out + err, ADMIN, ADMIN[-32:])


def test_cli_inspect_errors_are_one_line_without_the_input(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TEST_ABSENT_MACAROON", raising=False)
    assert main(["vault", "inspect-macaroon", "--hex-env", "TEST_ABSENT_MACAROON"]) == 2
    assert "TEST_ABSENT_MACAROON is not set" in capsys.readouterr().err
    path = tmp_path / "truncated.macaroon"
    path.write_bytes(RAW.hex()[:40].encode())
    assert main(["vault", "inspect-macaroon", "--file", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "malformed macaroon" in err and RAW.hex()[:40] not in out + err
