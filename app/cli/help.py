"""Every command's `--help` opens with what the command does, not with its options alone."""

from __future__ import annotations

import argparse
from collections.abc import Iterator


def subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser, str | None]]:
    """(name, parser, one-line help) of every subcommand under `parser`, depth first."""
    for action in parser._actions:  # argparse keeps no public list of its subparsers
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, child in action.choices.items():
                yield name, child, helps.get(name)
                yield from subcommands(child)


def describe_every_command(parser: argparse.ArgumentParser) -> None:
    """Give each subcommand without a description its one-line help as one (argparse shows none by default)."""
    for _, child, help_text in subcommands(parser):
        if not child.description and help_text:
            child.description = help_text[0].upper() + help_text[1:] + "."
