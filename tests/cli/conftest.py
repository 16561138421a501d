"""The CLI tests that need a running service use the API tests' fixtures."""

from tests.api.conftest import live_service  # noqa: F401
from tests.storage.conftest import mongo_url  # noqa: F401
