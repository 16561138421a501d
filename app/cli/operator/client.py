"""The operator commands' connection to the API: where it is, the key, errors as exit codes, job polling.

The settings here are read from the environment directly, not from app.settings: the CLI is a client that
may run on another machine, and must not need (or fail on) the service's own configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import Any, Final, NoReturn

import httpx

from app.cli.progress import note
from app.errors import ConfigError
from app.security.private_files import read_private_file

DEFAULT_API_URL: Final = "http://127.0.0.1:8000"
REQUEST_TIMEOUT_S: Final = 60.0
POLL_INTERVAL_S: Final = 0.5
JOB_DEADLINE_S: Final = 3600.0


class ExitCode(IntEnum):
    """What an operator command's exit status means (documented in docs/CLI.md)."""

    OK = 0
    REFUSED = 1  # the API answered with a refusal (401, 403, 409, 422, 429) or the job failed
    USAGE = 2  # bad arguments or configuration: no key, a key file readable by others, a bad URL
    UNREACHABLE = 3  # no answer from the API (refused connection, DNS, timeout)
    NOT_FOUND = 4  # the node, decision, transaction, backup or job does not exist (in this tenant)
    SERVER_ERROR = (
        5  # the API failed (5xx, storage down, an answer that is not JSON) or a job was interrupted
    )
    INTERRUPTED = 130  # Ctrl-C (a job goes on in the service; the message names it)


class OperatorError(Exception):
    """A command that cannot go on: the message for stderr and the exit code."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """--api-url, --key-file and --json, on every operator command."""
    parser.add_argument("--api-url", help=f"the API's base URL (default MCP_API_URL, else {DEFAULT_API_URL})")
    parser.add_argument(
        "--key-file",
        type=Path,
        help="file (mode 0600) holding the API key (default MCP_API_KEY_FILE, else MCP_API_KEY)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    output.add_argument(
        "--get", metavar="PATH", help="print one field of the JSON, e.g. execution.transaction_id or 0.id"
    )


def api_url(args: argparse.Namespace) -> str:
    """--api-url, else MCP_API_URL, else the local default."""
    url = (args.api_url or os.environ.get("MCP_API_URL") or DEFAULT_API_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise OperatorError(ExitCode.USAGE, f"the API URL must start with http:// or https://: {url!r}")
    return url


def api_key(args: argparse.Namespace, required: bool = True) -> str | None:
    """--key-file, else MCP_API_KEY_FILE, else MCP_API_KEY; the file must be readable by its owner only."""
    path = args.key_file or (
        Path(os.environ["MCP_API_KEY_FILE"]) if os.environ.get("MCP_API_KEY_FILE") else None
    )
    if path is not None:
        try:
            key = read_private_file(path, "API key file").decode().strip()
        except ConfigError as exc:
            raise OperatorError(ExitCode.USAGE, exc.message) from None
        if not key:
            raise OperatorError(ExitCode.USAGE, f"the API key file {path} is empty")
        return key
    key = os.environ.get("MCP_API_KEY", "").strip()
    if key or not required:
        return key or None
    raise OperatorError(
        ExitCode.USAGE, "no API key: pass --key-file FILE, or set MCP_API_KEY_FILE or MCP_API_KEY"
    )


def _refusal(response: httpx.Response) -> NoReturn:
    """Raise the API's error as an OperatorError with the exit code its status means."""
    try:
        body: Any = response.json()
    except ValueError:  # a proxy's HTML page, say
        body = None
    error: dict[str, Any] = {}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
    message = error.get("message") or response.reason_phrase or "no message"
    details = error.get("details") or {}
    text = f"{response.status_code} {error.get('code', 'error')}: {message}"
    if details:
        text += "".join(f"\n  {key}: {value}" for key, value in details.items())
    if response.status_code == 404:
        raise OperatorError(ExitCode.NOT_FOUND, text)
    if response.status_code >= 500:
        raise OperatorError(ExitCode.SERVER_ERROR, text)
    raise OperatorError(ExitCode.REFUSED, text)


class Api:
    """A small JSON client of the API: every call authenticated, every failure an OperatorError."""

    def __init__(self, url: str, key: str | None) -> None:
        self.url = url
        self.has_key = key is not None
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT_S)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def call_unchecked(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, whatever its status; only an unreachable API is raised."""
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:  # the message names the URL, never the headers
            raise OperatorError(
                ExitCode.UNREACHABLE, f"cannot reach the API at {self.url} ({type(exc).__name__})"
            ) from None

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; a 2xx answer is returned, anything else raised with its exit code."""
        response = self.call_unchecked(method, path, **kwargs)
        if response.is_success:
            return response
        _refusal(response)

    def get(self, path: str, **params: Any) -> Any:
        """GET `path` with the non-empty query parameters; the JSON body."""
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None}).json()

    def post(self, path: str, body: dict[str, Any] | None = None, **params: Any) -> httpx.Response:
        """POST a JSON body."""
        return self.call("POST", path, json=body, params={k: v for k, v in params.items() if v is not None})

    def pages(self, path: str, limit: int | None, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paged list (up to `limit` items when given), following next_cursor."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            size = min(500, limit - len(items)) if limit else 200
            page = self.get(path, limit=size, cursor=cursor, **params)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor or (limit and len(items) >= limit):
                return items

    def run_job(self, path: str, body: dict[str, Any] | None, label: str) -> dict[str, Any]:
        """Start a sync or optimize as a job, show its progress on stderr, and return its result."""
        started = time.monotonic()
        response = self.post(path, body, wait="false")
        if response.status_code == 200:  # finished before the API answered
            result: dict[str, Any] = response.json()
            return result
        job = response.json()
        progress = JobProgress(label)
        try:
            while job["state"] == "running":
                progress.show(job.get("progress") or {})
                if time.monotonic() - started > JOB_DEADLINE_S:
                    raise OperatorError(ExitCode.SERVER_ERROR, f"job {job['id']} still running after an hour")
                time.sleep(POLL_INTERVAL_S)  # a client polling a remote job: no local state to wait on
                job = self.get(f"/api/v1/jobs/{job['id']}")
        except KeyboardInterrupt:
            raise OperatorError(
                ExitCode.INTERRUPTED,
                f"stopped watching; job {job['id']} goes on in the service (GET /api/v1/jobs/{job['id']})",
            ) from None
        progress.finish(job, time.monotonic() - started)
        if job["state"] == "succeeded":
            return {**(job.get("result") or {}), "job_id": job["id"]}
        error = job.get("error") or {}
        code = ExitCode.REFUSED if job["state"] == "failed" else ExitCode.SERVER_ERROR
        raise OperatorError(
            code,
            f"job {job['id']} {job['state']}: {error.get('code', '')} {error.get('message', '')}".rstrip(),
        )


class JobProgress:
    """A job's phase and done/total on stderr: a redrawn bar on a terminal, a line per change elsewhere."""

    WIDTH: Final = 24

    def __init__(self, label: str) -> None:
        self.label = label
        self.terminal = sys.stderr.isatty()
        self.last = ""

    def line(self, progress: dict[str, Any]) -> str:
        """`label [#####.....] done/total phase`."""
        done, total, phase = progress.get("done"), progress.get("total"), progress.get("phase") or "running"
        if isinstance(done, int) and isinstance(total, int) and total > 0:
            filled = round(self.WIDTH * min(done, total) / total)
            return f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} {phase}"
        return f"{self.label} [{'.' * self.WIDTH}] {phase}"

    def show(self, progress: dict[str, Any]) -> None:
        """Draw the current progress (only when it changed)."""
        text = self.line(progress)
        if text == self.last:
            return
        self.last = text
        if self.terminal:  # redrawn in place
            print(f"\r{text}\033[K", end="", file=sys.stderr, flush=True)
        else:
            note(text)

    def finish(self, job: dict[str, Any], seconds: float) -> None:
        """The final state and the time it took."""
        self.show(job.get("progress") or {})
        ended_bar = "\n" if self.terminal else ""  # the bar's line was never ended
        note(f"{ended_bar}{self.label}: {job['state']} in {seconds:.1f} s")


def operator_command(
    run: Callable[[argparse.Namespace, Api], int], *, key_required: bool = True
) -> Callable[[argparse.Namespace], int]:
    """A handler: connect with the arguments' URL and key, run, and turn an OperatorError into its exit code."""

    def handler(args: argparse.Namespace) -> int:
        try:
            api = Api(api_url(args), api_key(args, key_required))
            try:
                return run(args, api)
            finally:
                api.close()
        except OperatorError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return int(exc.code)
        except json.JSONDecodeError:  # a 2xx that is not the API's JSON: a proxy or another service answered
            print(
                f"error: the answer from {args.api_url or 'the API'} is not JSON; is it the API?",
                file=sys.stderr,
            )
            return int(ExitCode.SERVER_ERROR)
        except KeyboardInterrupt:
            print("error: interrupted", file=sys.stderr)
            return int(ExitCode.INTERRUPTED)

    return handler


def confirm(args: argparse.Namespace, question: str) -> None:
    """Go on with --yes, or when the person at the terminal answers y; refuse otherwise."""
    if getattr(args, "yes", False):
        return
    if not sys.stdin.isatty():
        raise OperatorError(ExitCode.USAGE, f"{question}: confirm with --yes (no terminal to ask on)")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise OperatorError(ExitCode.REFUSED, "not confirmed; nothing was changed")
