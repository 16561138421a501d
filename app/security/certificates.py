"""Pinned node certificates: parsed when an operator hands one over, never first at the node call."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

from cryptography import x509

MAX_PEM_CHARS = 20_000


def check_pinned_certificate(pem: str, now: datetime | None = None) -> list[str]:
    """Warnings about a PEM certificate that can be pinned; ValueError saying why it cannot.

    Both parsers must accept it: cryptography names what is wrong, and the ssl module is what will
    load it for every call (a PEM-looking but broken certificate once failed every sync with a 500).
    """
    if any(ord(c) < 32 and c not in "\r\n\t" for c in pem) or not pem.isascii():
        raise ValueError("tls_cert_pem must be ASCII PEM text (no control characters)")
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise ValueError("tls_cert_pem is not a readable PEM certificate (the node's tls.cert)") from None
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        raise ValueError(f"tls_cert_pem cannot be used to verify TLS ({exc})") from None
    moment = now or datetime.now(UTC)
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        return [
            "the pinned certificate is not valid now (valid "
            f"{certificate.not_valid_before_utc:%Y-%m-%d} to {certificate.not_valid_after_utc:%Y-%m-%d}); "
            "TLS to the node will fail until it is replaced"
        ]
    return []
