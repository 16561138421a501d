"""LND REST traffic checked against LND's swagger (tests/contract/swagger.py)."""
