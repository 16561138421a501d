"""Tests of app.security, plus the helpers they share for scanning output for leaked secrets."""

from __future__ import annotations

import base64
import logging

from app.settings import Settings


def secret_forms(secret: bytes) -> list[str]:
    """Every textual form in which `secret` could leak: raw, hex, standard and URL-safe base64 (padded or not)."""
    standard = base64.b64encode(secret).decode()
    url_safe = base64.urlsafe_b64encode(secret).decode()
    return [
        secret.decode("latin-1"),
        secret.hex(),
        secret.hex().upper(),
        standard,
        standard.rstrip("="),
        url_safe,
        url_safe.rstrip("="),
        repr(secret),
    ]


def leaked(text: str, *secrets: bytes) -> list[str]:
    """The forms of `secrets` found in `text` (empty when nothing leaked)."""
    return [form for secret in secrets for form in secret_forms(secret) if form in text]


def log_text(records: list[logging.LogRecord]) -> str:
    """Everything a log handler could write: messages, arguments and every extra attribute."""
    return "\n".join(f"{record.getMessage()} {record.__dict__!r}" for record in records)


def vault_settings(**overrides: object) -> Settings:
    """Settings with every master-key field given explicitly, so the test process's MCP_* variables never leak in."""
    fields: dict[str, object] = {
        "master_key": None,
        "master_key_file": None,
        "master_passphrase": None,
        "master_salt_file": None,
        "extra_master_key_file": None,
    }
    fields.update(overrides)
    return Settings(**fields)  # type: ignore[arg-type]
