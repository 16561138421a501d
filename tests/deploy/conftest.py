"""Real Redis and the Mongo-wire server for the deployment tests, one each per session."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pytest

from app.cache.redis_server import RedisServer
from app.storage.embedded import EmbeddedMongo
from tests.deploy.image_recipe import RecipeInstall

RECIPE_TEST = "test_recipe_installs_with_hashes_in_a_fresh_virtualenv_and_the_app_starts"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throwaway real redis-server."""
    with RedisServer() as server:
        yield server.url


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    """One in-memory nx-27017 shared by the session (each test uses its own database)."""
    server = EmbeddedMongo()
    url = asyncio.run(server.start())
    try:
        yield url
    finally:
        asyncio.run(server.stop())


@pytest.fixture
def database() -> str:
    """A database name unique to the test."""
    return f"mcp_deploy_{secrets.token_hex(6)}"


@pytest.fixture(scope="session")
def recipe_install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecipeInstall]:
    """The image's install steps in a fresh virtualenv, running in the background."""
    install = RecipeInstall(tmp_path_factory.mktemp("recipe"))
    try:
        yield install
    finally:
        install.stop()


@pytest.fixture(scope="session", autouse=True)
def _start_the_recipe_install_early(request: pytest.FixtureRequest) -> None:
    """When the recipe test is in this run, its minute of pip starts now, beside the other tests."""
    if any(item.name == RECIPE_TEST for item in request.session.items):
        request.getfixturevalue("recipe_install")
