"""Credential handling: macaroon parsing, the encrypted vault, API keys."""
