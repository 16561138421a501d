"""Command line: `python -m app <command>`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from app.cli.help import describe_every_command
from app.errors import DomainError
from app.version import DISTRIBUTION, package_version

# Command -> the module that registers it. Only the module of the command being run is imported, so a quick
# command (shadow) does not pay seconds of FastAPI, PyMongo and NetworKit imports that only others need.
COMMAND_MODULES = {
    "shadow": "app.cli.shadow",
    "admin-key": "app.cli.admin_key",
    "demo": "app.cli.demo",
    "sandbox": "app.cli.sandbox",
    "vault": "app.cli.vault",
    "backups": "app.cli.backups",
    "ops": "app.cli.ops",
    "simulate": "app.cli.simulate",
    # The operator's commands: clients of the REST API (app/cli/operator/; `backups restore` joins `backups`).
    "status": "app.cli.operator.status",
    "nodes": "app.cli.operator.nodes",
    "decisions": "app.cli.operator.decisions",
    "rollout": "app.cli.operator.rollout",
    "transactions": "app.cli.operator.transactions",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser with one subcommand per job (only `command`'s when one is named)."""
    parser = argparse.ArgumentParser(
        prog="python -m app", description="Lightning fee optimizer control plane"
    )
    parser.add_argument("--version", action="version", version=f"{DISTRIBUTION} {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMAND_MODULES.items():
        if command in (None, name):
            importlib.import_module(module).add_parser(commands)
    describe_every_command(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; domain errors become one clear line on stderr and exit code 2."""
    words = list(sys.argv[1:] if argv is None else argv)
    command = words[0] if words and words[0] in COMMAND_MODULES else None
    args = build_parser(command).parse_args(words)
    try:
        result: int = args.handler(args)
        return result
    except BrokenPipeError:  # the reader went away (`... | head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for key, value in exc.details.items():
            print(f"  {key}: {value}", file=sys.stderr)
        return 2
