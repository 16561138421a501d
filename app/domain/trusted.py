"""Domain models built from values their producer has already checked, skipping pydantic validation.

Validation is the right default, but the decision cycle builds about fifteen models per channel from values it
computed itself within their bounds (heuristic results are range-checked when created, totals are clamped),
and validating them again cost about a third of a whole cycle. Only such producers use `trusted`; a test
revalidates everything a cycle builds this way.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)
_set_slot = object.__setattr__  # frozen models refuse their own __setattr__


def trusted(model: type[Model], **values: Any) -> Model:
    """An instance of `model` holding `values` exactly as given; pass every field, each already valid."""
    instance = object.__new__(model)  # BaseModel defines no __new__; looking it up on the class costs more
    # The same four slots pydantic's own model_construct fills, without its per-field default handling.
    _set_slot(instance, "__dict__", values)
    _set_slot(instance, "__pydantic_fields_set__", _field_names(model))
    _set_slot(instance, "__pydantic_extra__", None)
    _set_slot(instance, "__pydantic_private__", None)
    return instance


@cache
def _field_names(model: type[BaseModel]) -> set[str]:
    """Every field of `model`, one set shared by its trusted instances.

    Sharing is safe: frozen models never change their fields-set, and pydantic copies it before model_copy
    adds to it. It spares an allocation per instance that the garbage collector would have to scan.
    """
    return set(model.model_fields)
