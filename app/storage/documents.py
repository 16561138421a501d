"""Record <-> BSON document conversion: `id` becomes `_id`, amounts stay ints, datetimes stay datetimes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from app.storage.fields import page_key

Document = dict[str, Any]
ModelT = TypeVar("ModelT", bound=BaseModel)
PAGE_KEY = "page_key"


def to_document(record: BaseModel, *, time_field: str | None = None) -> Document:
    """The document for `record`; with `time_field`, also the page key ordering it by (time, id).

    JSON mode turns nested domain models into plain types BSON can hold (enums to strings, any numpy
    scalar in score facts to a float) while Python ints stay ints, so msat amounts are stored as int64,
    never as a float or Decimal128. Computed fields are left out: they are derived again on load and
    the models forbid unknown fields. Top-level datetimes are put back as datetimes for BSON dates.
    """
    document: Document = record.model_dump(mode="json", exclude_computed_fields=True)
    for name, value in record:
        if isinstance(value, datetime):
            document[name] = value
    if "id" in document:
        document["_id"] = document.pop("id")
    if time_field is not None:
        moment = getattr(record, time_field)
        document[PAGE_KEY] = page_key(moment, str(document["_id"]))
    return document


def from_document(model: type[ModelT], document: Document) -> ModelT:
    """Load a stored document back into its record model (storage-only fields dropped)."""
    fields = {key: value for key, value in document.items() if key != PAGE_KEY}
    if "_id" in fields:
        fields["id"] = fields.pop("_id")
    return model.model_validate(fields)
