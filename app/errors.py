"""Exception tree of the service: every domain error carries a stable code and safe details."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


class CapabilityError(DomainError):
    """The node backend cannot do what was asked (e.g. LNbits has no forwarding history)."""

    code = "capability_unsupported"


class UpstreamError(DomainError):
    """A node (LND, LNbits) answered with an error or could not be reached."""

    code = "upstream_error"

    def __init__(
        self, message: str, details: dict[str, Any] | None = None, status: int | None = None
    ) -> None:
        super().__init__(message, details)
        self.status = status


class UpstreamTemporaryError(UpstreamError):
    """A failure worth retrying: timeout, connection error, 502/503/504 or 429."""

    code = "upstream_temporary"

    def __init__(
        self,
        message: str,
        details: dict[str, Any] | None = None,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, details, status)
        self.retry_after_s = retry_after_s


class UpstreamAuthError(UpstreamError):
    """The node refused our credentials or their permissions."""

    code = "upstream_auth"


class UpstreamNotFoundError(UpstreamError):
    """The node does not know the requested object."""

    code = "upstream_not_found"


class UpstreamInvalidParameterError(UpstreamError):
    """The node rejected a parameter of our request."""

    code = "upstream_invalid_parameter"


class UpstreamTlsError(UpstreamError):
    """The node's TLS handshake failed (wrong pinned certificate, untrusted certificate, not TLS at all).

    Not retried: the same certificate fails the same way until the operator fixes the registration.
    """

    code = "upstream_tls"


class UpstreamUnavailableError(UpstreamError):
    """The node cannot serve us now: its circuit is open, or its API is disabled (LNbits 501)."""

    code = "upstream_unavailable"


class StorageUnavailableError(DomainError):
    """The database cannot be reached: reads fall back to the cache, writes are refused (503)."""

    code = "storage_unavailable"


class ConflictError(DomainError):
    """The request conflicts with the current state (duplicate name, lease held, stale version)."""

    code = "conflict"


class AuthenticationError(DomainError):
    """Missing, malformed, unknown or revoked API key (401)."""

    code = "unauthenticated"


class PermissionDeniedError(DomainError):
    """The API key's role does not allow this operation (403)."""

    code = "forbidden"


class RateLimitedError(DomainError):
    """Too many requests for this API key (429 with Retry-After)."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: float, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details)
        self.retry_after_s = retry_after_s


def validation_problems(
    errors: Iterable[Mapping[str, Any]], key: str = "field", whole: str = ""
) -> list[dict[str, str]]:
    """Pydantic errors as [{key: dotted location, "message": reason}]; `whole` labels an empty location."""
    # Takes `exc.errors()` rather than the exception: FastAPI's RequestValidationError is no ValidationError.
    return [
        {key: ".".join(str(part) for part in error["loc"]) or whole, "message": error["msg"]}
        for error in errors
    ]
