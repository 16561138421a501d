"""The log formats and the redaction filter, through the real handler `configure_logging` installs."""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Iterator

import pytest

from app.observability.logging_setup import REDACTED, configure_logging, default_format, redact
from app.observability.request_context import bind_caller, current_request_id, current_tenant_id

MACAROON_HEX = "0201036c6e6402f801030a10" + secrets.token_hex(120)  # the shape of an LND macaroon
MACAROON_B64 = "AgEDbG5kAvgBAwoQ" + "x" * 80
API_KEY = secrets.token_urlsafe(32)  # the shape our keys have: no prefix a pattern could catch
BOT_TOKEN = f"{secrets.randbelow(10**9) + 10**8}:AA{secrets.token_urlsafe(24)}"
PUBKEY = "03864ef025fde8fb587d989186ce6a4a186895ee44a926bfc370e2c366597a3f8f"


@pytest.fixture
def log(capsys: pytest.CaptureFixture[str]) -> Iterator[logging.Logger]:
    """A logger of the app, behind the JSON handler; the previous root configuration is put back after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("json", logging.DEBUG)
    capsys.readouterr()
    yield logging.getLogger("app.test_logging")
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    """Every line written to stderr, each parsed as one JSON document (fails on anything else)."""
    text = capsys.readouterr().err
    assert text.endswith("\n"), text
    return [json.loads(line) for line in text.splitlines()]


def test_one_json_line_per_event_with_the_request_and_tenant_ids(log, capsys):
    request_token = current_request_id.set("req-42")
    tenant_token = current_tenant_id.set("tenant-7")
    try:
        log.info("synced %d channels\nsecond line of the same event", 12, extra={"node_id": "n1"})
        log.warning("slow node")
    finally:
        current_request_id.reset(request_token)
        current_tenant_id.reset(tenant_token)
    log.info("outside any request")
    first, second, third = lines(capsys)
    assert first["message"] == "synced 12 channels\nsecond line of the same event"
    assert (first["request_id"], first["tenant_id"], first["node_id"]) == ("req-42", "tenant-7", "n1")
    assert (first["level"], first["logger"]) == ("info", "app.test_logging")
    assert second["level"] == "warning" and second["request_id"] == "req-42"
    assert (third["request_id"], third["tenant_id"]) == ("-", "-")
    assert str(first["ts"]).endswith("Z")


@pytest.mark.parametrize(
    "template",
    [
        "node answered {secret}",
        "headers: {{'Authorization': 'Bearer {secret}'}}",
        "Grpc-Metadata-macaroon: {secret}",
        "POST https://api.telegram.org/bot{secret}/sendMessage failed",
        'config {{"bot_token": "{secret}"}}',
        "api_key={secret}&node=1",
    ],
)
@pytest.mark.parametrize(
    "secret",
    [MACAROON_HEX, MACAROON_B64, BOT_TOKEN, "1234:" + BOT_TOKEN.split(":")[1]],
    ids=["hex", "b64", "bot", "bot-short-id"],
)
def test_secrets_in_a_message_never_reach_the_output(log, capsys, template, secret):
    log.error(template.format(secret=secret))
    log.error("as an argument: %s", template.format(secret=secret))
    output = capsys.readouterr().err
    assert secret not in output and secret[8:40] not in output, output
    assert output.count(REDACTED) >= 2, output


def test_the_callers_key_and_an_authorization_header_are_redacted_anywhere(log, capsys):
    bind_caller("tenant-1", API_KEY)
    try:
        log.info("key %s in a message", API_KEY)
        log.info("a header", extra={"headers": {"authorization": f"Bearer {API_KEY}"}})
    finally:
        bind_caller(None, "")
    log.info("Authorization: Bearer %s", "some-other-token-abcdef")
    output = capsys.readouterr().err
    assert API_KEY not in output and "some-other-token-abcdef" not in output, output
    assert output.count(REDACTED) == 3, output
    assert [line["tenant_id"] for line in map(json.loads, output.splitlines())] == [
        "tenant-1",
        "tenant-1",
        "-",
    ]


def test_any_api_key_of_ours_is_redacted_not_only_the_callers(log, capsys):
    others = [secrets.token_urlsafe(32) for _ in range(200)]
    for key in others:
        log.warning("a key of another tenant: %s.", key)
    output = capsys.readouterr().err
    missed = [key for key in others if key in output]
    # Only a key lacking an upper-case letter, a lower-case letter or a digit (about 1 in 2,500) may pass.
    classes = (str.isupper, str.islower, str.isdigit)
    assert all(not all(any(kind(c) for c in key) for kind in classes) for key in missed), missed
    assert output.count(REDACTED) == len(others) - len(missed)


def test_secrets_inside_an_exception_and_its_traceback_are_redacted(log, capsys):
    try:
        raise RuntimeError(f"the node refused macaroon {MACAROON_HEX} and Bearer {API_KEY}")
    except RuntimeError:
        log.exception("write failed for bot %s", BOT_TOKEN)
    (line,) = lines(capsys)
    text = json.dumps(line)
    for secret in (MACAROON_HEX, API_KEY, BOT_TOKEN):
        assert secret not in text
    assert "RuntimeError: the node refused macaroon [REDACTED]" in str(line["exception"])
    assert "Traceback" in str(line["exception"])


def test_configured_secrets_are_redacted_verbatim_and_public_identifiers_stay(log, capsys):
    admin_key = "an-admin-key-of-any-shape-" + secrets.token_hex(4)
    configure_logging("json", logging.DEBUG, secrets=[admin_key, None, "short"])
    log.info("admin %s; peer %s; url mongodb://app:hunter2secret@db:27017/mcp; short", admin_key, PUBKEY)
    (line,) = lines(capsys)
    message = str(line["message"])
    assert admin_key not in message and "hunter2secret" not in message
    assert PUBKEY in message and "mongodb://app:[REDACTED]@db:27017" in message and "short" in message


def test_the_text_format_is_one_readable_line_with_the_ids(capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("text")
    try:
        capsys.readouterr()
        token = current_request_id.set("req-9")
        logging.getLogger("app.x").info("hello %s", f"Bearer {API_KEY}")
        current_request_id.reset(token)
        output = capsys.readouterr().err
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    assert output.count("\n") == 1 and " INFO    app.x [req-9 -] hello Bearer [REDACTED]" in output, output
    assert API_KEY not in output


def test_the_default_is_text_on_a_terminal_and_json_otherwise(tmp_path):
    leader, follower = os.openpty()
    with open(follower, "w") as terminal, open(tmp_path / "file.log", "w") as plain:
        assert default_format(terminal) == "text"
        assert default_format(plain) == "json"
    os.close(leader)


def test_uvicorn_loggers_go_through_the_one_handler(log, capsys):
    access = logging.getLogger("uvicorn.access")
    level = access.level  # another test's server may have set `warning`
    access.setLevel(logging.INFO)
    try:
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/x", "1.1", 200)
    finally:
        access.setLevel(level)
    (line,) = lines(capsys)
    assert line["logger"] == "uvicorn.access" and '"GET /x HTTP/1.1" 200' in str(line["message"])


def test_redact_leaves_ordinary_text_alone():
    text = f"synced 120 channels of {PUBKEY} in 2.5 s; tokens: 5; fee_rate_ppm=100"
    assert redact(text) == text


def test_structured_extras_keep_their_shape_and_labelled_values_are_redacted(log, capsys):
    nested = {"macaroon": "short-secret"}
    audit = {"tenant_id": "alice", "outcome": "decrypted", "count": 3, "nested": nested}
    log.info("audited", extra={"audit": audit, "headers": {"x-api-key": "not-long-but-secret"}})
    line = json.loads(capsys.readouterr().err)
    assert line["audit"]["tenant_id"] == "alice" and line["audit"]["count"] == 3  # still an object
    assert line["audit"]["nested"]["macaroon"] == REDACTED
    assert line["headers"]["x-api-key"] == REDACTED
    assert nested["macaroon"] == "short-secret"  # the caller's own dict is left alone
