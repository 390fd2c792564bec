"""Temporary separation (NĐ 56/2017 Art. 32): decided with an end date, watched by a clock
on that date, extended or ended by the chairperson — each step audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from casework.deadlines import sweep
from casework.errors import EventNotAllowed
from casework.models import AuditEvent, Deadline, FiredRung, Notification
from casework.services.queries import get_case
from tests.conftest import at
from tests.helpers import case_in, step

DECIDED = at("2027-02-03T11:00")
SEPARATED = {"measures": "cách ly tạm thời", "separation": True, "separation_until": "2027-02-13"}


def separated_case(db, people):
    view = case_in(db, people, "emergency_protection")
    return step(db, people, view["id"], "decide_emergency", DECIDED, data=SEPARATED)


def separation_clocks(view):
    return [d for d in view["deadlines"] if d["rule"] == "separation_end"]


def fired_on_separation(db):
    with db.uow(readonly=True) as uow:
        return list(
            uow.session.scalars(
                sa.select(FiredRung.rung)
                .join(Deadline, FiredRung.deadline_id == Deadline.id)
                .where(Deadline.rule == "separation_end")
                .order_by(FiredRung.id)
            )
        )


def test_a_separation_opens_a_clock_due_at_office_close_of_its_end_date(db, people) -> None:
    view = separated_case(db, people)
    [clock] = separation_clocks(view)
    assert clock["status"] == "open"
    assert clock["due_at"] == at("2027-02-13T17:00").isoformat()
    assert clock["legal_source"] == "NĐ 56/2017 Art. 32"
    assert view["state"] == "specific_assessment"  # the clock outlives the emergency step


def test_no_separation_no_clock(db, people) -> None:
    view = case_in(db, people, "emergency_protection")
    view = step(db, people, view["id"], "decide_emergency", DECIDED)  # separation: false
    assert separation_clocks(view) == []


def test_the_sweep_reminds_then_escalates_once_each(db, people) -> None:
    view = separated_case(db, people)
    [clock] = separation_clocks(view)
    due = at("2027-02-13T17:00")
    reminder = DECIDED + (due - DECIDED) * 0.75
    assert clock["next_rung"] == "reminded"
    assert clock["next_rung_at"] == reminder.isoformat()
    sweep(db, reminder - timedelta(minutes=1))
    assert fired_on_separation(db) == []
    sweep(db, reminder)
    sweep(db, reminder + timedelta(hours=1))
    assert fired_on_separation(db) == ["reminded"]
    sweep(db, due)
    sweep(db, due + timedelta(hours=23, minutes=59))
    assert fired_on_separation(db) == ["reminded", "overdue"]
    sweep(db, due + timedelta(hours=24))
    sweep(db, due + timedelta(days=10))
    assert fired_on_separation(db) == ["reminded", "overdue", "escalated"]
    with db.uow(readonly=True) as uow:
        to_chair = list(
            uow.session.scalars(
                sa.select(Notification.subject).where(
                    Notification.user_id == people["chair"].id,
                    Notification.subject.like("%tạm thời cách ly%"),
                )
            )
        )
        to_province = list(
            uow.session.scalars(
                sa.select(Notification.kind).where(
                    Notification.user_id == people["province"].id,
                    Notification.subject.like("%tạm thời cách ly%"),
                )
            )
        )
    assert len(to_chair) == 2  # reminded, overdue
    assert to_province == ["deadline.escalated"]


def test_extending_meets_the_clock_and_opens_one_on_the_new_end(db, people) -> None:
    view = separated_case(db, people)
    when = at("2027-02-12T09:00")
    data = {"separation_until": "2027-02-25", "reason": "gia đình chưa an toàn"}
    view = step(db, people, view["id"], "extend_separation", when, actor="chair", data=data)
    old, new = separation_clocks(view)
    assert (old["status"], old["met_at"]) == ("met", when.isoformat())
    assert (new["status"], new["due_at"]) == ("open", at("2027-02-25T17:00").isoformat())
    assert view["state"] == "specific_assessment"
    full = get_case(db, people["officer"], view["id"], now=when)
    assert full["facts"]["separation"]["until"] == "2027-02-25"
    assert full["facts"]["separation"]["extensions"][0]["previous_until"] == "2027-02-13"
    assert full["history"][-1]["event"] == "extend_separation"
    # The old clock's rungs never fire; the new one's do.
    sweep(db, at("2027-02-24T00:00"))
    assert fired_on_separation(db) == ["reminded"]


def test_an_extension_decided_after_the_end_is_recorded_late(db, people) -> None:
    view = separated_case(db, people)
    when = at("2027-02-14T09:00")
    data = {"separation_until": "2027-02-20", "reason": "gia hạn muộn"}
    view = step(db, people, view["id"], "extend_separation", when, actor="chair", data=data)
    old, _new = separation_clocks(view)
    assert old["status"] == "met_late"


@pytest.mark.parametrize(
    ("until", "message"),
    [
        ("2027-02-13", "after the current end"),
        ("2027-02-29", "must be a date"),  # not a date at all
        ("2027-03-01", "at most 15 days"),  # 16 days after the current end
    ],
)
def test_an_extension_stays_within_the_law(db, people, until, message) -> None:
    from casework.errors import ValidationError

    view = separated_case(db, people)
    with pytest.raises((EventNotAllowed, ValidationError), match=message):
        step(
            db,
            people,
            view["id"],
            "extend_separation",
            at("2027-02-10T09:00"),
            actor="chair",
            data={"separation_until": until, "reason": "x"},
        )


def test_ending_the_separation_stops_its_clock_and_records_the_placement(db, people) -> None:
    view = separated_case(db, people)
    when = at("2027-02-08T10:00")
    data = {"placement": "relatives", "note": "ở với bà ngoại"}
    view = step(db, people, view["id"], "end_separation", when, actor="chair", data=data)
    [clock] = separation_clocks(view)
    assert clock["status"] == "met" and clock["next_rung"] is None
    sweep(db, at("2027-03-01T00:00"))
    assert fired_on_separation(db) == []
    full = get_case(db, people["officer"], view["id"], now=when)
    assert full["facts"]["separation"]["ended"]["placement"] == "relatives"
    with pytest.raises(EventNotAllowed, match="no temporary separation is in force"):
        step(
            db,
            people,
            view["id"],
            "extend_separation",
            when + timedelta(hours=1),
            actor="chair",
            data={"separation_until": "2027-02-20", "reason": "x"},
        )
    with db.uow(readonly=True) as uow:
        actions = list(
            uow.session.scalars(
                sa.select(AuditEvent.action).where(AuditEvent.case_id == view["id"])
            )
        )
    assert "case.end_separation" in actions


def test_a_case_cannot_close_while_a_separation_is_in_force(db, people) -> None:
    view = separated_case(db, people)
    now = DECIDED
    for name in ("complete_assessment", "submit_plan", "approve_plan", "start_review"):
        now += timedelta(minutes=30)
        view = step(db, people, view["id"], name, now)
    with pytest.raises(EventNotAllowed, match="end it first"):
        step(db, people, view["id"], "close", now + timedelta(minutes=30))
    step(
        db,
        people,
        view["id"],
        "end_separation",
        now + timedelta(hours=1),
        data={"placement": "family"},
    )
    closed = step(db, people, view["id"], "close", now + timedelta(hours=2))
    assert closed["state"] == "closed"


def test_only_the_chair_decides_on_the_separation(db, people) -> None:
    from casework.errors import PermissionDenied

    view = separated_case(db, people)
    with pytest.raises(PermissionDenied):
        step(
            db,
            people,
            view["id"],
            "end_separation",
            at("2027-02-08T10:00"),
            actor="officer",
            data={"placement": "family"},
        )
