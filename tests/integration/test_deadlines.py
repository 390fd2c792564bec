"""Statutory clocks with a frozen clock, through the services, on both databases."""

from __future__ import annotations

from datetime import date, timedelta

from casework.clock import parse_iso
from casework.models import CalendarDay
from casework.services.cases import assign, fire_event
from casework.services.queries import get_case
from casework.services.settings import set_override
from tests.conftest import at
from tests.helpers import case_in, deadline, drive, open_case, step


def due(view, rule, cycle=1):
    return parse_iso(deadline(view, rule, cycle)["due_at"])


def test_intake_starts_the_12_hour_initial_assessment_clock(db, people) -> None:
    case = open_case(db, people, received_at="2027-03-01T21:40:00+07:00")
    # 12 h on the wall clock, across midnight.
    assert due(case, "initial_assessment") == at("2027-03-02T09:40:00")
    assert due(case, "transfer") == at("2027-03-01T23:40:00")
    assert deadline(case, "transfer")["status"] == "met"  # auto-transferred at intake
    assert due(case, "assignment") == at("2027-03-01T21:50:00") + timedelta(hours=3)


def test_high_risk_at_intake_shortens_the_assignment_clock(db, people) -> None:
    case = open_case(db, people, received_at="2027-03-01T10:00:00+07:00", risk_level="high")
    assert due(case, "assignment") == at("2027-03-01T10:10:00") + timedelta(hours=1)


def test_plan_deadlines_skip_tet_2027(db, people) -> None:
    # domain.md: received Wed 3/2/2027 → plan due 17:00 Wed 17/2/2027.
    view = case_in(db, people, "specific_assessment", received_at="2027-02-03T09:00:00+07:00")
    assert due(view, "plan_submission") == at("2027-02-17T17:00:00")
    assert due(view, "plan_approval") == at("2027-02-19T17:00:00")


def test_plan_deadline_skips_tet_2026(db, people) -> None:
    view = case_in(
        db,
        people,
        "specific_assessment",
        received_at="2026-02-13T15:00:00+07:00",
        child={"full_name": "Trần Văn Nam", "sex": "male", "age_years": 9},
    )
    assert due(view, "plan_submission") == at("2026-02-27T17:00:00")


def test_plan_deadline_skips_a_weekend(db, people) -> None:
    view = case_in(db, people, "specific_assessment", received_at="2027-03-11T10:00:00+07:00")
    assert due(view, "plan_submission") == at("2027-03-18T17:00:00")


def test_administrator_added_day_off_moves_the_plan_deadline(db, people) -> None:
    with db.uow() as uow:
        uow.session.add(
            CalendarDay(province_code="48", day=date(2027, 3, 16), kind="off", note="nghỉ bù")
        )
        uow.commit()
    view = case_in(db, people, "specific_assessment", received_at="2027-03-11T10:00:00+07:00")
    assert due(view, "plan_submission") == at("2027-03-19T17:00:00")


def test_day_off_of_another_province_does_not_count(db, people) -> None:
    with db.uow() as uow:
        uow.session.add(CalendarDay(province_code="01", day=date(2027, 3, 16), kind="off"))
        uow.commit()
    view = case_in(db, people, "specific_assessment", received_at="2027-03-11T10:00:00+07:00")
    assert due(view, "plan_submission") == at("2027-03-18T17:00:00")


def test_province_override_of_a_deadline(db, people) -> None:
    set_override(
        db,
        "48",
        "initial_assessment",
        duration=8,
        unit="hours",
        legal_source="QĐ 704/QĐ-UBND (example)",
        reason="QĐ 704",
        now=at("2027-01-01T00:00"),
    )
    case = open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    assert due(case, "initial_assessment") == at("2027-03-01T16:00:00")
    assert deadline(case, "initial_assessment")["legal_source"].startswith("QĐ 704")


def test_emergency_branch_opens_the_emergency_decision_clock(db, people) -> None:
    view = case_in(db, people, "emergency_protection", received_at="2027-03-01T08:00:00+07:00")
    assert due(view, "emergency_decision") == at("2027-03-01T20:00:00")
    assert deadline(view, "initial_assessment")["status"] == "met"
    view = step(db, people, view["id"], "decide_emergency", at("2027-03-01T22:00:00"))
    assert deadline(view, "emergency_decision")["status"] == "met_late"


def test_a_late_step_keeps_its_lateness(db, people) -> None:
    case = open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    view = drive(db, people, case["id"], ["accept"], at("2027-03-01T08:15:00"))
    view = step(db, people, case["id"], "assess", at("2027-03-01T21:00:00"))
    record = deadline(view, "initial_assessment")
    assert record["status"] == "met_late"
    assert parse_iso(record["met_at"]) == at("2027-03-01T21:00:00")
    assert deadline(view, "assignment")["status"] == "met"


def test_open_deadline_shows_overdue_after_due_time(db, people) -> None:
    case = open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    view = get_case(db, people["officer"], case["id"], now=at("2027-03-01T20:01:00"))
    assert deadline(view, "initial_assessment")["status"] == "overdue"


def test_reassignment_never_resets_a_clock(db, people) -> None:
    people.make("officer.b", "officer", "20194")
    view = case_in(db, people, "specific_assessment", received_at="2027-03-11T10:00:00+07:00")
    before = due(view, "plan_submission")
    view = assign(
        db, people["chair"], view["id"], "officer.b", view["version"], now=at("2027-03-15T10:00:00")
    )
    assert view["assignee"] == "officer.b"
    assert due(view, "plan_submission") == before


def test_closing_cancels_what_is_still_open(db, people) -> None:
    view = case_in(db, people, "implementing", received_at="2027-03-01T08:00:00+07:00")
    assert deadline(view, "review")["status"] == "open"
    moment = at("2027-03-20T09:00:00")
    view = fire_event(
        db,
        people["chair"],
        view["id"],
        "transfer_out",
        view["version"],
        {"unit_code": "20197", "reason": "trẻ chuyển nơi ở"},
        now=moment,
    )
    view = step(db, people, view["id"], "accept", moment, actor="chair.2", data={})
    view = step(db, people, view["id"], "mark_unfounded", moment, actor="officer.2")
    assert deadline(view, "review")["status"] == "cancelled"
    assert [d["status"] for d in view["deadlines"] if d["rule"] == "assignment"] == ["met", "met"]


def test_review_clock_runs_30_days_from_implementation(db, people) -> None:
    view = case_in(db, people, "implementing", received_at="2027-03-01T08:00:00+07:00")
    entered = parse_iso(view["state_entered_at"])
    assert due(view, "review") == entered + timedelta(days=30)


def test_reopen_starts_a_new_cycle_from_the_new_receipt(db, people) -> None:
    view = case_in(db, people, "closed", received_at="2027-03-01T08:00:00+07:00")
    view = step(db, people, view["id"], "reopen", at("2027-04-01T09:00:00"))
    assert due(view, "initial_assessment", cycle=2) == at("2027-04-01T21:00:00")


def test_settings_changes_reach_new_clocks_at_once_and_need_an_admin(db, people) -> None:
    import pytest

    from casework.errors import PermissionDenied
    from casework.services.settings import add_calendar_day

    first = case_in(db, people, "specific_assessment", received_at="2027-03-11T10:00:00+07:00")
    assert due(first, "plan_submission") == at("2027-03-18T17:00:00")  # calendar now cached
    with pytest.raises(PermissionDenied):
        add_calendar_day(db, "48", date(2027, 3, 16), "off", actor=people["chair"])
    add_calendar_day(db, "48", date(2027, 3, 16), "off", actor=people["admin"])
    second = case_in(
        db,
        people,
        "specific_assessment",
        received_at="2027-03-11T10:00:00+07:00",
        child={"full_name": "Võ Văn Huy", "sex": "male", "age_years": 11},
    )
    assert due(second, "plan_submission") == at("2027-03-19T17:00:00")
    # A running clock is not rewritten by a later settings change.
    from casework.services.queries import get_case

    again = get_case(db, people["officer"], first["id"], now=at("2027-03-12T00:00:00"))
    assert due(again, "plan_submission") == at("2027-03-18T17:00:00")
