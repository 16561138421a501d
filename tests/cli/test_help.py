"""`python -m app` describes itself: a version, and a --help that says what every command does."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest

from app.cli import build_parser, main
from app.cli.help import subcommands
from app.main import create_app
from app.settings import Settings
from app.version import DISTRIBUTION


def test_version_prints_the_installed_package_version(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"{DISTRIBUTION} {version(DISTRIBUTION)}\n"


def test_version_from_the_command_line_matches_the_openapi_version():
    printed = subprocess.run(
        [sys.executable, "-m", "app", "--version"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()[-1]
    assert printed == version(DISTRIBUTION) == create_app(Settings()).version


def test_every_command_says_what_it_does():
    commands = list(subcommands(build_parser()))
    assert len(commands) >= 20
    undescribed = [name for name, parser, help_text in commands if not (parser.description and help_text)]
    assert not undescribed, f"commands without help text: {undescribed}"


@pytest.mark.parametrize(
    ("command", "must_mention"),
    [
        (["admin-key"], ["MCP_ADMIN_API_KEY_FILE", "0600", "never printed", "existing file is kept"]),
        (["vault", "genkey"], ["MCP_MASTER_KEY_FILE", "0600", "back it up", "never overwritten"]),
    ],
)
def test_key_commands_explain_the_key_and_where_it_goes(
    command: list[str], must_mention: list[str], capsys: pytest.CaptureFixture[str]
):
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for phrase in must_mention:
        assert phrase in text, f"{phrase!r} not in {text!r}"
