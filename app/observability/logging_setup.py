"""The service's log: one JSON line per event (or a human line on a terminal), secrets redacted first.

Every line carries the request id and the tenant id of the request that caused it (contextvars set by
the API, inherited by the jobs it starts). A filter on the one handler rewrites each record's message,
traceback and extra fields through `redact` before any formatter sees them, so a key or macaroon put
into a message or an exception by mistake is replaced by `[REDACTED]` in either format.

Hand-written rather than a JSON-logging library: the formatter is a dozen lines over orjson (already a
dependency), and the part that matters, the redaction, must run before whichever formatter is used.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final, Literal, TextIO

import orjson

from app.observability.request_context import current_credential, current_request_id, current_tenant_id
from app.settings import Settings

LogFormat = Literal["json", "text"]
REDACTED: Final = "[REDACTED]"
# A name ending in one of these labels a secret (`bot_token`, `MCP_ADMIN_API_KEY`, `Grpc-Metadata-macaroon`);
# matched from the label word on, with no prefix pattern: scanning a prefix at every position was 13 us a line.
_SECRET_NAMES: Final = r"(?:api[_-]?key|token|secret|password|passphrase|macaroon|master[_-]?key)"

# Each pattern keeps its group 1 (a label such as `Authorization: `) and replaces the rest.
SECRET_PATTERNS: Final[tuple[re.Pattern[str], ...]] = (
    # An Authorization header or a bearer credential anywhere: `Authorization: Bearer x`, `bearer x`.
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token)?\s*)[^\s\"',;}]+"),
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+"),
    # A value labelled as a secret: `api_key=x`, `"bot_token": "x"`, `macaroon: x`, `MCP_ADMIN_API_KEY=x`.
    re.compile(r"(?i)(" + _SECRET_NAMES + r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]+"),
    # A Telegram bot token (`123456789:AA...`; ids of 3-20 digits, as our API accepts), also inside a Bot API
    # URL (`/bot123456789:AA.../`).
    re.compile(r"()(?<!\d)\d{3,20}:[A-Za-z0-9_-]{30,}"),
    # A macaroon as hex: long runs of hex digits. Pubkeys (66) and hashes (64) are shorter and stay readable.
    re.compile(r"()(?<![0-9a-fA-F])[0-9a-fA-F]{100,}(?![0-9a-fA-F])"),
    # An LND macaroon in base64 (its first bytes, 02 01 03 'lnd', encode as `AgEDbG5k`).
    re.compile(r"()AgEDbG5k[A-Za-z0-9+/=_-]*"),
    # One of our API keys (43 URL-safe base64 characters, app/storage/api_keys.py), anyone's, not only the
    # caller's: a run of exactly 43 with upper case, lower case and a digit (ids, hashes and pubkeys are hex
    # of other lengths; about 1 key in 2,500 lacks a class and is caught only verbatim, as the caller's).
    re.compile(
        r"()(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-]))"
        r"(?=[A-Za-z0-9_-]*?[A-Z])(?=[A-Za-z0-9_-]*?[a-z])(?=[A-Za-z0-9_-]*?[0-9])[A-Za-z0-9_-]{43}"
    ),
    # A password inside a URL: `mongodb://user:secret@host`.
    re.compile(r"(://[^/\s:@]+:)[^@\s/]+(?=@)"),
)
_LITERALS: set[str] = set()  # known secret values (the admin key, database passwords) redacted verbatim
_MIN_LITERAL = 8  # shorter values would redact ordinary words


def add_secret(value: str | None) -> None:
    """Redact this exact value wherever it appears (for secrets no pattern recognises)."""
    if value and len(value.strip()) >= _MIN_LITERAL:
        _LITERALS.add(value.strip())


def redact(text: str) -> str:
    """`text` with every recognised secret replaced by [REDACTED] (the current caller's key included)."""
    credential = current_credential.get()
    if credential and len(credential) >= _MIN_LITERAL and credential in text:
        text = text.replace(credential, REDACTED)
    for literal in _LITERALS:
        if literal in text:
            text = text.replace(literal, REDACTED)
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


# What a LogRecord carries by itself; anything else on it came from `extra=` and is logged as a field.
_STANDARD_FIELDS: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "tenant_id",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


class RedactSecrets(logging.Filter):
    """Render the message, traceback and extra fields once, redacted, before any formatter sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        record.msg, record.args = redact(record.getMessage()), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name in extra_fields(record):
            setattr(record, name, _redacted(getattr(record, name)))
        record.request_id = current_request_id.get()
        record.tenant_id = current_tenant_id.get()
        return True


def _redacted(value: Any) -> Any:
    """`value` with every string in it redacted, keeping its shape (an audit dict stays a dict in JSON)."""
    if value is None or isinstance(value, int | float | bool):
        return value
    if isinstance(value, dict):
        return {redact(str(key)): _labelled(str(key), item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return redact(str(value))


def _labelled(label: str, value: Any) -> Any:
    """A dict item: redacted whole when its key labels a secret (`{"macaroon": "..."}`), else like any value."""
    if isinstance(value, str) and redact(f"{label}={value}") != f"{label}={redact(value)}":
        return REDACTED
    return _redacted(value)


def extra_fields(record: logging.LogRecord) -> Iterable[str]:
    """Names of the fields a caller added with `extra=`."""
    return [name for name in vars(record) if name not in _STANDARD_FIELDS and not name.startswith("_")]


def _timestamp(record: logging.LogRecord) -> str:
    return (
        datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request and tenant ids, extras, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (newlines inside strings are escaped)."""
        document: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", current_request_id.get()),
            "tenant_id": getattr(record, "tenant_id", current_tenant_id.get()),
        }
        for name in extra_fields(record):
            document[name] = getattr(record, name)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = record.stack_info
        return orjson.dumps(document, default=str).decode()


class TextFormatter(logging.Formatter):
    """`time level logger [request tenant] message` for a person at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s %(tenant_id)s] %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        """UTC, to the millisecond, like the JSON lines."""
        return _timestamp(record)

    def format(self, record: logging.LogRecord) -> str:
        """The line, with ids read from the context when no filter set them."""
        record.request_id = getattr(record, "request_id", current_request_id.get())
        record.tenant_id = getattr(record, "tenant_id", current_tenant_id.get())
        return super().format(record)


class CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of each record (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        """The current sys.stderr."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:  # StreamHandler.__init__ assigns it
        pass


def default_format(stream: TextIO | None = None) -> LogFormat:
    """Text for a person at a terminal, JSON for everything else (journald, files, collectors)."""
    stream = stream or sys.stderr
    return "text" if stream.isatty() else "json"


# uvicorn's loggers have handlers of their own (access lines on stdout): routed to ours instead, their
# levels (`--log-level`) kept.
_SERVER_LOGGERS: Final = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging(
    log_format: LogFormat | None = None, level: int | str = logging.INFO, secrets: Iterable[str | None] = ()
) -> logging.Handler:
    """Send every log record of the process through one redacting handler in `log_format`; returns it.

    Idempotent: a second call replaces the handler of the first (the demo and the app factory both call it).
    """
    for secret in secrets:
        add_secret(secret)
    handler = CurrentStderrHandler()
    handler.set_name("mcp")
    handler.addFilter(RedactSecrets())
    handler.setFormatter(JsonFormatter() if (log_format or default_format()) == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "mcp"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        if not server_logger.propagate and not server_logger.handlers:
            continue  # switched off (`uvicorn --no-access-log`): stays off
        server_logger.handlers.clear()
        server_logger.propagate = True
    return handler


def configure_service_logging(settings: Settings) -> logging.Handler:
    """The service's logging from its settings; the configured secrets are redacted verbatim too."""
    secrets = (settings.admin_api_key, settings.master_key, settings.master_passphrase)
    return configure_logging(
        settings.log_format,
        settings.log_level,
        [secret.get_secret_value() for secret in secrets if secret is not None],
    )
