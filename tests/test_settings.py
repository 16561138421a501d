"""Settings from the environment: a bad value is one line naming the variable, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from app.errors import ConfigError
from app.settings import Settings, get_settings, settings_problems


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_an_out_of_range_value_names_the_variable_its_value_and_the_range(
    fresh_settings: None, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MCP_RATE_LIMIT_PER_SECOND", "100000")
    monkeypatch.setenv("MCP_HEALTH_INTERVAL_S", "often")
    with pytest.raises(ConfigError) as caught:
        get_settings()
    message = caught.value.message
    assert "MCP_RATE_LIMIT_PER_SECOND='100000'" in message and "less than or equal to 10000" in message
    assert "MCP_HEALTH_INTERVAL_S='often'" in message


def test_a_secret_setting_is_named_but_its_value_is_never_shown():
    with pytest.raises(ValidationError) as caught:
        Settings(master_key=4242424242, max_body_bytes=1)
    line = settings_problems(caught.value)
    assert "MCP_MASTER_KEY=(hidden)" in line and "4242424242" not in line
    assert "MCP_MAX_BODY_BYTES=1: Input should be greater than or equal to 1024" in line


def test_the_service_command_prints_one_line_and_fails(tmp_path):
    env = {**os.environ, "MCP_RATE_LIMIT_PER_SECOND": "100000", "MCP_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "app", "demo", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: invalid setting: MCP_RATE_LIMIT_PER_SECOND='100000': Input should be less than or equal to 10000"
    )
    assert "Traceback" not in done.stderr + done.stdout
