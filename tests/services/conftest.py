"""The service-layer tests use the API tests' running service."""

from tests.api.conftest import live_service, service  # noqa: F401
from tests.storage.conftest import mongo_url  # noqa: F401
