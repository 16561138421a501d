"""Who may do what through the API."""

from __future__ import annotations

from enum import StrEnum


class ApiKeyRole(StrEnum):
    """What an API key may do; each role includes the ones before it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
