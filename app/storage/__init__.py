"""MongoDB persistence on PyMongo's async API: repositories per collection, indexes, the embedded server.

Start with `open_storage(settings)`; every repository method except tenants, the API-key lookup by hash
and leases takes a tenant id and filters on it. PyMongo errors leave as StorageUnavailableError (503)
or ConflictError (409).
"""

from app.storage.database import Storage, open_storage
from app.storage.embedded import EmbeddedMongo
from app.storage.paging import Page

__all__ = ["EmbeddedMongo", "Page", "Storage", "open_storage"]
