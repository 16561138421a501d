"""docs/OPERATIONS.md names only scripts that exist, with options they take."""

from __future__ import annotations

import re

import pytest

from tests.deploy.stack import PROJECT

pytestmark = pytest.mark.deploy
DOC = PROJECT / "docs" / "OPERATIONS.md"
OURS = re.compile(
    r"(?:\./|\b)((?:scripts|deploy)/[\w.-]+\.(?:sh|py)|start_api\.sh|docker_entrypoint\.sh)((?:\s+[^|;&`\n]*)?)"
)


def test_every_script_and_option_in_the_guide_exists():
    text = DOC.read_text()
    uses = OURS.findall(text)
    assert len(uses) >= 15, "the guide walks through the scripts"
    for script, rest in uses:
        path = PROJECT / script
        assert path.is_file(), f"{script} is named in the guide but does not exist"
        source = path.read_text()
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", rest):
            assert option in source, f"{script} has no option {option} (docs/OPERATIONS.md)"


def test_every_setting_the_guide_names_is_documented():
    example = (PROJECT / "env.production.example").read_text()
    scripts = [path.read_text() for path in (PROJECT / "scripts").glob("*.sh")]
    for setting in set(re.findall(r"\bMCP_[A-Z_]+\b", DOC.read_text())):
        # The service's settings are in the example; the scripts' own (MCP_UPSTREAMS ...) in their usage.
        assert setting in example or any(setting in script for script in scripts), (
            f"{setting} is documented nowhere"
        )
