"""ChannelPolicy: the list of unknowable fields matches the model, and completeness follows it."""

from __future__ import annotations

import types

import pytest

from app.domain.policy import UNKNOWABLE_FIELDS, ChannelPolicy


def test_unknowable_fields_are_exactly_the_nullable_fields():
    nullable = [
        name
        for name, info in ChannelPolicy.model_fields.items()
        if isinstance(info.annotation, types.UnionType) and type(None) in info.annotation.__args__
    ]
    assert list(UNKNOWABLE_FIELDS) == nullable


@pytest.mark.parametrize("name", UNKNOWABLE_FIELDS)
def test_one_unknown_field_makes_the_policy_incomplete(name):
    assert ChannelPolicy().is_complete
    assert not ChannelPolicy(**{name: None}).is_complete
