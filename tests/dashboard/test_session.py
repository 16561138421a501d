"""The sealed session cookie: what it holds, and every way a cookie is refused."""

from __future__ import annotations

import base64

from app.dashboard.session import Session, SessionCodec, new_token, same_token
from app.security.keys import MasterKey
from app.security.vault import Keyring

KEY = "mcp_a_tenant_key_that_must_not_leak"
HOUR = 3600.0


def session(issued_s: int = 1_000_000) -> Session:
    """A session issued at `issued_s`."""
    return Session(api_key=KEY, issued_s=issued_s, csrf=new_token())


def test_a_sealed_session_opens_to_what_was_sealed_and_hides_the_key():
    codec = SessionCodec(Keyring(MasterKey.generate()), lifetime_s=HOUR)
    original = session()
    cookie = codec.seal(original)
    assert KEY not in cookie and base64.b64encode(KEY.encode()).decode()[:12] not in cookie
    assert codec.open(cookie, original.issued_s + 10) == original
    assert codec.seal(original) != cookie  # a fresh nonce every time
    assert KEY not in repr(original)


def test_altered_foreign_expired_and_malformed_cookies_are_refused():
    codec = SessionCodec(Keyring(MasterKey.generate()), lifetime_s=HOUR)
    original = session()
    cookie = codec.seal(original)
    version, key_id, body = cookie.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    other = SessionCodec(Keyring(MasterKey.generate()), lifetime_s=HOUR)
    refused = {
        "altered": f"{version}.{key_id}.{flipped}",
        "unknown key": other.seal(original),
        "other format": f"v0.{key_id}.{body}",
        "not base64": f"{version}.{key_id}.!!!",
        "empty": "",
        "huge": "v1." + "a" * 5000,
    }
    for why, value in refused.items():
        assert codec.open(value, original.issued_s + 10) is None, why
    assert codec.open(None, original.issued_s) is None
    assert codec.open(cookie, original.issued_s + HOUR + 1) is None  # expired
    assert codec.open(cookie, original.issued_s - 120) is None  # issued in the future, beyond the grace


def test_a_session_sealed_before_a_key_rotation_still_opens():
    old, new = MasterKey.generate(), MasterKey.generate()
    before = SessionCodec(Keyring(old), lifetime_s=HOUR)
    cookie = before.seal(session())
    after = SessionCodec(Keyring(new, old), lifetime_s=HOUR)  # new key active, old one kept to open
    opened = after.open(cookie, 1_000_010)
    assert opened is not None and opened.api_key == KEY
    assert after.seal(session()).split(".")[1] == new.key_id


def test_csrf_tokens_compare_in_constant_time_and_refuse_absence():
    token = new_token()
    assert same_token(token, token)
    assert not same_token(token, token + "x")
    assert not same_token(token, None) and not same_token(token, "")
    assert len(token) >= 20 and new_token() != token


def test_a_session_from_a_replica_whose_clock_runs_ahead_opens_within_a_minute():
    codec = SessionCodec(Keyring(MasterKey.generate()), lifetime_s=HOUR)
    original = session()
    cookie = codec.seal(original)
    assert codec.open(cookie, original.issued_s - 2) == original  # issued "2 s in the future"
    assert codec.open(cookie, original.issued_s - 61) is None  # beyond the grace: refused
