"""When the daily briefing is due: from PUBLISHER_BRIEFING_AT, local time in PUBLISHER_TIMEZONE.

Apart from `publisher.services.briefing` so that the worker's scheduler can ask every few
seconds without loading the render stack into its processes.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from publisher.settings import Settings

CATCH_UP_H = 6  # a scheduler that was down at the time still sends within this many hours


def due_day(settings: Settings, now: datetime | None = None) -> date | None:
    """The local day whose briefings are due at `now`, or None outside the window from
    PUBLISHER_BRIEFING_AT to CATCH_UP_H hours after it."""
    zone = settings.timezone
    local = (now or datetime.now(zone)).astimezone(zone)
    hour, minute = (int(part) for part in settings.publisher_briefing_at.split(":"))
    due = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if due <= local < due + timedelta(hours=CATCH_UP_H):
        return local.date()
    return None
