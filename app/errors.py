"""Exception tree of the service: every domain error carries a stable code and safe details."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the service raises on purpose; never carries a secret."""

    code = "domain_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInputError(DomainError):
    """Input from a user, a file or a node does not have the expected shape."""

    code = "invalid_input"


class GraphFormatError(InvalidInputError):
    """A channel-graph document is malformed; the message names the record and field."""

    code = "graph_format_error"


class ConfigError(InvalidInputError):
    """A configuration file or setting is invalid."""

    code = "config_error"


class NotFoundError(DomainError):
    """A requested resource does not exist."""

    code = "not_found"


class NodeNotFoundError(NotFoundError):
    """No node of the graph matches the given pubkey or alias."""

    code = "node_not_found"


class AmbiguousNodeError(InvalidInputError):
    """An alias matches several nodes; the details list the candidates."""

    code = "ambiguous_node"
