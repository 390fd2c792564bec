"""Working-day arithmetic (no database)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from casework.calendar import WorkingCalendar
from casework.deadlines import compute_due
from workflows.case import CASE_WORKFLOW

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN)


def test_plan_deadline_skips_tet_2027() -> None:
    # domain.md: received Wed 3/2/2027, plan due 17:00 Wed 17/2/2027 (Tết 4–10/2).
    due = WorkingCalendar().add_working_days(local(2027, 2, 3, 9, 0), 5)
    assert due.astimezone(VN) == local(2027, 2, 17, 17, 0)


def test_plan_deadline_skips_tet_2026() -> None:
    # Tết 2026: Mon 16/2 – Fri 20/2 are public holidays; received Fri 13/2.
    due = WorkingCalendar().add_working_days(local(2026, 2, 13, 15, 0), 5)
    assert due.astimezone(VN) == local(2026, 2, 27, 17, 0)


def test_five_working_days_skip_a_weekend() -> None:
    # Thursday 2027-03-11 → Fri 12, Mon 15, Tue 16, Wed 17, Thu 18.
    due = WorkingCalendar().add_working_days(local(2027, 3, 11, 10, 0), 5)
    assert due.astimezone(VN) == local(2027, 3, 18, 17, 0)


def test_administrator_day_off_pushes_the_deadline() -> None:
    calendar = WorkingCalendar(days_off=[date(2027, 3, 16)])
    due = calendar.add_working_days(local(2027, 3, 11, 10, 0), 5)
    assert due.astimezone(VN) == local(2027, 3, 19, 17, 0)


def test_swapped_working_saturday_counts() -> None:
    calendar = WorkingCalendar(working_days=[date(2027, 3, 13)])
    due = calendar.add_working_days(local(2027, 3, 11, 10, 0), 5)
    assert due.astimezone(VN) == local(2027, 3, 17, 17, 0)


def test_report_at_night_counts_from_the_next_day() -> None:
    # A report at 23:30 Monday: the first working day after it is Tuesday.
    due = WorkingCalendar().add_working_days(local(2027, 3, 8, 23, 30), 1)
    assert due.astimezone(VN) == local(2027, 3, 9, 17, 0)


def test_office_close_is_configurable() -> None:
    calendar = WorkingCalendar(office_close=time(16, 30))
    due = calendar.add_working_days(local(2027, 3, 11, 10, 0), 1)
    assert due.astimezone(VN) == local(2027, 3, 12, 16, 30)


def test_twelve_hours_run_across_midnight_on_the_wall_clock() -> None:
    rule = CASE_WORKFLOW.rule("initial_assessment")
    anchor = local(2027, 2, 5, 20, 15)  # the eve of Tết, a Friday night
    assert compute_due(rule, anchor, None, WorkingCalendar()).astimezone(VN) == local(
        2027, 2, 6, 8, 15
    )


def test_assignment_is_one_hour_when_risk_is_high() -> None:
    rule = CASE_WORKFLOW.rule("assignment")
    anchor = local(2027, 3, 1, 9, 0)
    assert compute_due(rule, anchor, "high", WorkingCalendar()) - anchor == timedelta(hours=1)
    assert compute_due(rule, anchor, "low", WorkingCalendar()) - anchor == timedelta(hours=3)


@given(
    anchor=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31)),
    count=st.integers(min_value=1, max_value=30),
)
def test_working_day_due_is_office_close_of_a_working_day_after_the_anchor(
    anchor: datetime, count: int
) -> None:
    calendar = WorkingCalendar()
    start = anchor.replace(tzinfo=VN)
    due = calendar.add_working_days(start, count).astimezone(VN)
    assert due.time() == time(17, 0)
    assert calendar.is_working_day(due.date())
    assert due.date() > start.date()
    assert calendar.working_days_between(start.date(), due.date()) == count
