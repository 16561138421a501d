"""Command line: `python -m app <command>`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from app.cli import admin_key, backups, demo, ops, sandbox, shadow, vault
from app.cli.help import describe_every_command
from app.errors import DomainError
from app.version import DISTRIBUTION, package_version


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subcommand per job."""
    parser = argparse.ArgumentParser(
        prog="python -m app", description="Lightning fee optimizer control plane"
    )
    parser.add_argument("--version", action="version", version=f"{DISTRIBUTION} {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    shadow.add_parser(commands)
    admin_key.add_parser(commands)
    demo.add_parser(commands)
    sandbox.add_parser(commands)
    vault.add_parser(commands)
    backups.add_parser(commands)
    ops.add_parser(commands)
    describe_every_command(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; domain errors become one clear line on stderr and exit code 2."""
    args = build_parser().parse_args(argv)
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
