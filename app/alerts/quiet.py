"""Quiet hours: a daily window, in the tenant's time zone, in which only critical alerts are sent."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, JsonValue, field_validator

from app.domain.base import DomainModel

# Listed in the schema so generated clients (and schema-driven tests) send only zones that exist here.
ZONES: list[JsonValue] = [*sorted(available_timezones())]
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class QuietHours(DomainModel):
    """From `start` to `end` ("HH:MM" wall-clock time in `timezone`; may cross midnight); equal: none."""

    start: str = Field(pattern=HHMM, examples=["22:00"])
    end: str = Field(pattern=HHMM, examples=["07:00"])
    timezone: str = Field(
        default="UTC",
        max_length=64,
        pattern=r"^[A-Za-z][A-Za-z0-9_+/-]*$",
        json_schema_extra={"enum": ZONES},
    )

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

    @property
    def window(self) -> tuple[time, time]:
        """Start and end as times of day."""
        return time.fromisoformat(self.start), time.fromisoformat(self.end)

    def contains(self, moment: datetime) -> bool:
        """Whether `moment` (timezone-aware) falls inside the quiet window."""
        start, end = self.window
        local = moment.astimezone(ZoneInfo(self.timezone)).time().replace(tzinfo=None)
        if start == end:
            return False
        if start < end:
            return start <= local < end
        return local >= start or local < end  # crosses midnight

    def ends_after(self, moment: datetime) -> datetime:
        """The first moment after `moment` outside the window (`moment` itself when outside)."""
        if not self.contains(moment):
            return moment
        zone = ZoneInfo(self.timezone)
        local = moment.astimezone(zone)
        end = datetime.combine(local.date(), self.window[1], tzinfo=zone)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(moment.tzinfo)
