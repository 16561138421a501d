"""The dashboard session: the API key sealed (AES-256-GCM) in an HttpOnly, Secure, SameSite=Strict cookie.

The cookie holds the key itself, sealed with the vault's active master key, so every request is
authenticated exactly like an API call (a revoked key stops working at once, the role follows the key,
every replica can open it) and no session store is needed. The browser's script can never read it
(HttpOnly); a stolen cookie is worth no more than its lifetime. The CSRF token lives inside the sealed
session and is echoed in every form.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets
from dataclasses import dataclass

import orjson
from cryptography.exceptions import InvalidTag

from app.security.vault import Keyring

SESSION_COOKIE = "mcp_dashboard"
LOGIN_COOKIE = "mcp_dashboard_login"  # the CSRF token of the login form, before there is a session
_FORMAT = "v1"
_LABEL = b"mcp-dashboard-session-v1"  # binds the ciphertext to this use of the master key
_NONCE_BYTES = 12
_MAX_COOKIE_CHARS = 4_000

CLOCK_SKEW_S = 60  # seconds a session may seem issued in the future (replicas' clocks)


@dataclass(frozen=True)
class Session:
    """What a sealed session holds: the API key, when it was issued and its CSRF token."""

    api_key: str
    issued_s: int
    csrf: str

    def __repr__(self) -> str:
        return f"Session(issued_s={self.issued_s})"  # never the key


def new_token() -> str:
    """A random token for CSRF checks (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def same_token(expected: str, presented: str | None) -> bool:
    """Constant-time comparison of a CSRF token with what a form sent."""
    return bool(presented) and hmac.compare_digest(expected.encode(), (presented or "").encode())


class SessionCodec:
    """Seals and opens session cookies with a keyring; an old key still opens what it sealed."""

    def __init__(self, keyring: Keyring, lifetime_s: float) -> None:
        self.keyring = keyring
        self.lifetime_s = lifetime_s

    def seal(self, session: Session) -> str:
        """The cookie value: format, key id and base64url(nonce + ciphertext)."""
        key = self.keyring.active
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = orjson.dumps({"k": session.api_key, "i": session.issued_s, "c": session.csrf})
        sealed = key.encrypt(nonce, plaintext, _LABEL + key.key_id.encode())
        return f"{_FORMAT}.{key.key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def open(self, value: str | None, now_s: float) -> Session | None:
        """The session in a cookie, or None when it is absent, altered, sealed by an unknown key or expired."""
        if not value or len(value) > _MAX_COOKIE_CHARS:
            return None
        parts = value.split(".")
        if len(parts) != 3 or parts[0] != _FORMAT:
            return None
        key = self.keyring.get(parts[1])
        if key is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
            plaintext = key.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _LABEL + parts[1].encode())
            fields = orjson.loads(plaintext)
            session = Session(api_key=str(fields["k"]), issued_s=int(fields["i"]), csrf=str(fields["c"]))
        except (binascii.Error, ValueError, InvalidTag, KeyError, TypeError, orjson.JSONDecodeError):
            return None
        # A minute's grace before "issued": another replica's clock may run a second behind this one's.
        if not -CLOCK_SKEW_S <= now_s - session.issued_s <= self.lifetime_s:
            return None
        return session
