"""Working-day arithmetic: weekends, Vietnamese public holidays, and province days.

Public holidays (lunar Tết included) come from the `holidays` package; administrators add a
province's extra days off and weekend days swapped into working days (`calendar_days`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import sqlalchemy as sa
from sqlalchemy.orm import Session

from casework.models import CalendarDay, CalendarDayKind


@lru_cache(maxsize=64)
def public_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("VN", years=year).keys())


class WorkingCalendar:
    def __init__(
        self,
        days_off: Iterable[date] = (),
        working_days: Iterable[date] = (),
        timezone: str = "Asia/Ho_Chi_Minh",
        office_close: time = time(17, 0),
    ) -> None:
        self.days_off = frozenset(days_off)
        self.working_days = frozenset(working_days)
        self.tz = ZoneInfo(timezone)
        self.office_close = office_close

    def is_working_day(self, day: date) -> bool:
        if day in self.working_days:
            return True
        if day in self.days_off or day.weekday() >= 5:
            return False
        return day not in public_holidays(day.year)

    def add_working_days(self, anchor: datetime, count: int) -> datetime:
        """Office close (local) of the `count`-th working day after the anchor's local date."""
        if count < 1:
            raise ValueError("count must be at least 1")
        day = anchor.astimezone(self.tz).date()
        counted = 0
        while counted < count:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return datetime.combine(day, self.office_close, tzinfo=self.tz).astimezone(UTC)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]."""
        return sum(
            1
            for offset in range(1, (end - start).days + 1)
            if self.is_working_day(start + timedelta(days=offset))
        )


def load_calendar(
    session: Session,
    province_code: str | None,
    timezone: str = "Asia/Ho_Chi_Minh",
    office_close: time = time(17, 0),
) -> WorkingCalendar:
    """The working calendar of one province, with its administrator-added days."""
    rows: list[CalendarDay] = []
    if province_code:
        rows = list(
            session.scalars(
                sa.select(CalendarDay).where(CalendarDay.province_code == province_code)
            )
        )
    return WorkingCalendar(
        days_off=[row.day for row in rows if row.kind == CalendarDayKind.OFF],
        working_days=[row.day for row in rows if row.kind == CalendarDayKind.WORK],
        timezone=timezone,
        office_close=office_close,
    )
