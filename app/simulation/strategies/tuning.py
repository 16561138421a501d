"""Profile variants for experiments: `limits.daily_cap=100` style overrides, validated like the profiles file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from app.engine.profile import Profile
from app.errors import InvalidInputError


def parse_value(text: str) -> Any:
    """A JSON value (number, true/false, list) or else the text itself."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def tuned(profile: Profile, assignments: Sequence[str]) -> Profile:
    """The profile with dotted-path assignments applied; the result passes the Profile validators again."""
    document = profile.model_dump()
    for assignment in assignments:
        path, sep, value = assignment.partition("=")
        keys = path.split(".")
        target: Any = document
        for key in keys[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if not sep or not isinstance(target, dict) or keys[-1] not in target:
            raise InvalidInputError(
                f"profile override {assignment!r} must be section.field=value naming an existing field",
                {"override": assignment},
            )
        target[keys[-1]] = parse_value(value)
    return Profile.model_validate(document)


def variant_suffix(assignments: Sequence[str]) -> str:
    """The strategy-name suffix that tells a variant from the profile as shipped."""
    fields = [f"{path.split('.')[-1]}={value}" for path, _, value in (a.partition("=") for a in assignments)]
    return f"[{','.join(fields)}]" if assignments else ""
