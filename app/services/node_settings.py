"""Per-node settings (mode, profile, limit overrides, pinned/excluded channels), validated like the validator."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_serializer

from app.domain.base import INT64_MAX, INT64_MIN, ChannelId
from app.domain.execution import ExecutionMode
from app.engine.profile import Profile, ProfileBook
from app.errors import InvalidInputError, validation_problems
from app.policy.limits import SafetyLimits

# Each scalar limit of the profile may be overridden, with its JSON type enforced (no "100" or true for a
# number: strings and booleans used to be stored verbatim) and integers inside what MongoDB can store.
STRICT_TYPES: dict[type, Any] = {
    int: Annotated[int, Field(strict=True, ge=INT64_MIN, le=INT64_MAX)],
    float: Annotated[float, Field(strict=True, allow_inf_nan=False)],
    bool: Annotated[bool, Field(strict=True)],
}
LimitOverrides: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "LimitOverrides",
    __config__=ConfigDict(frozen=True, extra="forbid"),
    __doc__="Overrides of the profile's safety limits; each is checked again with the validator's own bounds.",
    **{
        name: (STRICT_TYPES[field.annotation] | None, None)
        for name, field in SafetyLimits.model_fields.items()
        if field.annotation in STRICT_TYPES
    },
)


class NodeSettings(BaseModel):
    """What an operator may set for one node; unknown fields are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: ExecutionMode = ExecutionMode.SHADOW
    profile: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="decision profile; the configured default when unset",
    )
    limits: LimitOverrides = Field(
        default_factory=LimitOverrides, description="overrides of the profile's safety limits"
    )
    pinned_channels: list[ChannelId] = Field(default_factory=list, max_length=10_000)
    excluded_channels: list[ChannelId] = Field(default_factory=list, max_length=10_000)
    canary_channels: list[ChannelId] = Field(
        default_factory=list,
        max_length=5,
        description="channels a canary run writes; empty: the service picks the lowest-risk ones and names them",
    )
    auto_promote: bool = Field(
        default=False,
        strict=True,
        description="promote the rollout stage without an operator once every gate check passes",
    )

    @field_serializer("limits")
    def _only_overrides(self, limits: BaseModel) -> dict[str, Any]:
        """The overrides that are set, as stored and shown before (a plain mapping)."""
        return limits.model_dump(exclude_none=True)

    def effective_profile(self, book: ProfileBook, default: str | None) -> Profile:
        """The profile with this node's limit overrides and channel lists applied (validated again)."""
        profile = book.get(self.profile or default)
        merged = {
            **profile.limits.model_dump(),
            **self.limits.model_dump(exclude_none=True),
            "pinned_channels": frozenset(self.pinned_channels),
            "excluded_channels": frozenset(self.excluded_channels),
        }
        limits = SafetyLimits.from_mapping(merged, source="node limits")
        return profile.model_copy(update={"limits": limits})


def parse_node_settings(data: dict[str, Any], book: ProfileBook, default: str | None) -> NodeSettings:
    """Validate settings from a request or a stored record; 422-style errors name the field."""
    try:
        settings = NodeSettings.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc.errors(include_url=False))
        raise InvalidInputError("node settings are invalid", {"errors": problems}) from None
    if settings.profile is not None and settings.profile not in book.profiles:
        raise InvalidInputError(f"unknown profile {settings.profile!r}", {"available": sorted(book.profiles)})
    settings.effective_profile(book, default)  # the limit overrides must form valid limits
    return settings
