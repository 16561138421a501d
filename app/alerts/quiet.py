"""Quiet hours: a daily window, in the tenant's time zone, in which only critical alerts are sent."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from app.domain.base import DomainModel


class QuietHours(DomainModel):
    """From `start` to `end` local time (may cross midnight); start == end means no quiet hours."""

    start: time
    end: time
    timezone: str = Field(default="UTC", max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_+/-]*$")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)"
            ) from None
        return value

    def contains(self, moment: datetime) -> bool:
        """Whether `moment` (timezone-aware) falls inside the quiet window."""
        local = moment.astimezone(ZoneInfo(self.timezone)).time().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # crosses midnight

    def ends_after(self, moment: datetime) -> datetime:
        """The first moment after `moment` outside the window (`moment` itself when outside)."""
        if not self.contains(moment):
            return moment
        zone = ZoneInfo(self.timezone)
        local = moment.astimezone(zone)
        end = datetime.combine(local.date(), self.end, tzinfo=zone)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(moment.tzinfo)
