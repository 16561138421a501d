"""OpenAPI links: how the id a creating route answers with feeds the routes that use it.

They document the API's flow for a reader of /docs and let a stateful client (schemathesis' stateful
phase in the tests) chain a creation into the reads, changes and deletions of what it created.
"""

from __future__ import annotations

from typing import Any


def links(
    status: int, source: str, *operations: tuple[str, dict[str, str]]
) -> dict[int | str, dict[str, Any]]:
    """A `responses` entry giving the status' answer links to each (operationId, {parameter: expression})."""
    return {
        status: {
            "links": {
                operation_id: {"operationId": operation_id, "parameters": parameters, "description": source}
                for operation_id, parameters in operations
            }
        }
    }
