"""Fixtures of the dashboard suites: the running stack (once per session) and, for browser tests, Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard.stack import Stack, running_stack
from tests.storage.conftest import mongo_url  # noqa: F401  (session fixture)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, mongo_url: str) -> Iterator[Stack]:  # noqa: F811
    """The demo service set up with a live transaction, pending approvals, a backup and three keys."""
    with running_stack(tmp_path_factory.mktemp("dashboard"), mongo_url) as running:
        yield running


ARTIFACTS = Path(__file__).resolve().parents[2] / "tmp" / "artifacts" / "dashboard"
DOC_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
