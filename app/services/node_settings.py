"""Per-node settings (mode, profile, limit overrides, pinned/excluded channels), validated like the validator."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.domain.base import ChannelId
from app.domain.execution import ExecutionMode
from app.engine.profile import Profile, ProfileBook
from app.errors import InvalidInputError, validation_problems
from app.policy.limits import SafetyLimits


class NodeSettings(BaseModel):
    """What an operator may set for one node; unknown fields are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: ExecutionMode = ExecutionMode.SHADOW
    profile: str | None = Field(
        default=None, description="decision profile; the configured default when unset"
    )
    limits: dict[str, Any] = Field(
        default_factory=dict, description="overrides of the profile's safety limits"
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

    def effective_profile(self, book: ProfileBook, default: str | None) -> Profile:
        """The profile with this node's limit overrides and channel lists applied (validated again)."""
        profile = book.get(self.profile or default)
        merged = {
            **profile.limits.model_dump(),
            **self.limits,
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
