"""The escalation ladder and the sweep: timing, exactly once, met steps stop their ladder."""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa

from casework import audit
from casework.deadlines import sweep
from casework.models import AuditEvent, FiredRung, Notification
from casework.services.queries import get_case
from tests.conftest import at
from tests.helpers import case_in, open_case, step


def fired(db, case_id=None) -> list[tuple[str, str]]:
    from casework.models import Deadline

    with db.uow(readonly=True) as uow:
        query = (
            sa.select(Deadline.rule, FiredRung.rung)
            .join(Deadline, FiredRung.deadline_id == Deadline.id)
            .order_by(FiredRung.id)
        )
        if case_id is not None:
            query = query.where(FiredRung.case_id == case_id)
        return [tuple(row) for row in uow.session.execute(query)]


def inbox_of(db, user) -> list[str]:
    with db.uow(readonly=True) as uow:
        return list(
            uow.session.scalars(
                sa.select(Notification.kind)
                .where(Notification.user_id == user.id, Notification.kind != "case.transferred_in")
                .order_by(Notification.id)
            )
        )


def test_hours_step_ladder_fires_reminder_overdue_then_escalation(db, people) -> None:
    # Received 08:00, accepted by the officer at 08:15; the 12 h assessment is due 20:00.
    case = open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    step(db, people, case["id"], "accept", at("2027-03-01T08:15:00"), actor="officer", data={})
    assert sweep(db, at("2027-03-01T16:59:00")) == {}
    assert sweep(db, at("2027-03-01T17:00:00")) == {"reminded": 1, "notified": 1}  # 75 %
    assert sweep(db, at("2027-03-01T19:59:00")) == {}
    assert sweep(db, at("2027-03-01T20:00:00")) == {"overdue": 1, "notified": 2}
    assert sweep(db, at("2027-03-02T19:59:00")) == {}
    assert sweep(db, at("2027-03-02T20:00:00")) == {"escalated": 1, "notified": 1}
    assert sweep(db, at("2027-03-09T00:00:00")) == {}
    assert fired(db, case["id"]) == [
        ("initial_assessment", "reminded"),
        ("initial_assessment", "overdue"),
        ("initial_assessment", "escalated"),
    ]
    assert inbox_of(db, people["officer"]) == ["deadline.reminded", "deadline.overdue"]
    assert inbox_of(db, people["chair"]) == ["deadline.overdue"]
    assert inbox_of(db, people["province"]) == ["deadline.escalated"]
    assert inbox_of(db, people["province.hn"]) == []


def test_a_late_sweep_fires_every_due_rung_once_in_order(db, people) -> None:
    case = open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    step(db, people, case["id"], "accept", at("2027-03-01T08:15:00"), actor="officer", data={})
    counts = sweep(db, at("2027-03-05T00:00:00"))  # the sweeper was down for days
    assert counts["reminded"] == counts["overdue"] == counts["escalated"] == 1
    assert sweep(db, at("2027-03-05T00:00:00")) == {}


def test_working_day_step_escalates_a_working_day_after_due_across_tet(db, people) -> None:
    # Plan due 17:00 Wed 17/2/2027 (Tết 4–10/2); escalation on the next working day.
    view = case_in(db, people, "specific_assessment", received_at="2027-02-03T09:00:00+07:00")
    sweep(db, at("2027-02-17T16:59:00"))
    rungs = [r for rule, r in fired(db, view["id"]) if rule == "plan_submission"]
    assert rungs == ["reminded"]  # 75 % of 3/2 09:00 → 17/2 17:00 has passed
    sweep(db, at("2027-02-17T17:00:00"))
    sweep(db, at("2027-02-18T16:59:00"))
    assert [r for rule, r in fired(db, view["id"]) if rule == "plan_submission"] == [
        "reminded",
        "overdue",
    ]
    sweep(db, at("2027-02-18T17:00:00"))
    assert [r for rule, r in fired(db, view["id"]) if rule == "plan_submission"] == [
        "reminded",
        "overdue",
        "escalated",
    ]


def test_working_day_escalation_skips_the_weekend(db, people) -> None:
    # Received Mon 8/3/2027: plan due Mon 15/3 17:00 — a Friday due date would escalate Monday.
    view = case_in(db, people, "specific_assessment", received_at="2027-03-05T10:00:00+07:00")
    # Due Fri 12/3 17:00; +1 working day = Mon 15/3 17:00.
    sweep(db, at("2027-03-14T23:00:00"))
    assert "escalated" not in [r for rule, r in fired(db, view["id"]) if rule == "plan_submission"]
    sweep(db, at("2027-03-15T17:00:00"))
    assert "escalated" in [r for rule, r in fired(db, view["id"]) if rule == "plan_submission"]


def test_meeting_a_step_stops_its_ladder(db, people) -> None:
    case = open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    step(db, people, case["id"], "accept", at("2027-03-01T08:15:00"), actor="officer", data={})
    sweep(db, at("2027-03-01T17:00:00"))  # reminder fired
    step(db, people, case["id"], "assess", at("2027-03-01T18:00:00"))
    sweep(db, at("2027-03-03T00:00:00"))
    assert [r for rule, r in fired(db, case["id"]) if rule == "initial_assessment"] == ["reminded"]
    view = get_case(db, people["officer"], case["id"], now=at("2027-03-03T00:00:00"))
    record = next(d for d in view["deadlines"] if d["rule"] == "initial_assessment")
    assert record["status"] == "met" and record["next_rung"] is None


def test_a_late_step_stays_late_after_escalation(db, people) -> None:
    case = open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    step(db, people, case["id"], "accept", at("2027-03-01T08:15:00"), actor="officer", data={})
    sweep(db, at("2027-03-02T21:00:00"))
    view = step(db, people, case["id"], "assess", at("2027-03-02T22:00:00"))
    record = next(d for d in view["deadlines"] if d["rule"] == "initial_assessment")
    assert record["status"] == "met_late"
    full = get_case(db, people["officer"], case["id"], now=at("2027-03-02T22:00:00"))
    assert [e["rung"] for e in full["escalations"] if e["rule"] == "initial_assessment"] == [
        "reminded",
        "overdue",
        "escalated",
    ]


def test_every_fired_rung_is_an_audit_event(db, people) -> None:
    case = open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    sweep(db, at("2027-03-03T00:00:00"))
    with db.uow(readonly=True) as uow:
        actions = list(
            uow.session.scalars(
                sa.select(AuditEvent.action).where(
                    AuditEvent.case_id == case["id"], AuditEvent.action.like("deadline.%")
                )
            )
        )
        assert audit.verify(uow.session, uow.settings.audit_key).ok
    assert len(actions) == len(fired(db, case["id"])) > 0


def test_two_sweeps_at_the_same_instant_fire_each_rung_once(db, people) -> None:
    for n in range(6):
        open_case(
            db,
            people,
            received_at="2027-03-01T08:00:00+07:00",
            child={"full_name": f"Trẻ {n}", "sex": "male", "age_years": 6},
        )
    moment = at("2027-03-04T00:00:00")
    barrier = threading.Barrier(2)
    results: list[dict[str, int]] = []

    def run() -> None:
        barrier.wait()
        results.append(sweep(db, moment, batch_size=3))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = fired(db)
    with db.uow(readonly=True) as uow:
        keys = list(uow.session.execute(sa.select(FiredRung.deadline_id, FiredRung.rung_index)))
    assert len(keys) == len(set(keys))
    total = sum(sum(v for k, v in r.items() if k != "notified") for r in results)
    assert total == len(rows) > 0
    # Each open deadline went through its whole ladder exactly once.
    per_deadline = {}
    for deadline_id, index in keys:
        per_deadline.setdefault(deadline_id, []).append(index)
    assert all(sorted(v) == list(range(len(v))) for v in per_deadline.values())
    assert sweep(db, moment) == {}


def test_case_is_flagged_overdue_while_a_clock_is_past_due(db, people) -> None:
    case = open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    assert not get_case(db, people["officer"], case["id"], now=at("2027-03-01T10:00"))["overdue"]
    assert get_case(db, people["officer"], case["id"], now=at("2027-03-01T20:01"))["overdue"]


def test_reassignment_does_not_reset_the_ladder(db, people) -> None:
    from casework.services.cases import assign

    people.make("officer.b", "officer", "20194")
    case = open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    view = step(
        db, people, case["id"], "accept", at("2027-03-01T08:15:00"), actor="officer", data={}
    )
    sweep(db, at("2027-03-01T17:00:00"))
    assign(
        db, people["chair"], case["id"], "officer.b", view["version"], now=at("2027-03-01T18:00:00")
    )
    sweep(db, at("2027-03-01T20:00:00"))
    assert [r for rule, r in fired(db, case["id"]) if rule == "initial_assessment"] == [
        "reminded",
        "overdue",
    ]
    # The new assignee is told of the assignment, then of the overdue step (not reminded
    # again: the ladder did not restart).
    assert inbox_of(db, people["officer.b"]) == ["case.assigned", "deadline.overdue"]


def test_province_ladder_override_with_four_rungs(db, people) -> None:
    from casework.services.settings import set_override

    set_override(
        db,
        "48",
        "initial_assessment",
        ladder=[
            {"name": "reminded", "at_fraction": 0.5, "notify": ["assignee"]},
            {"name": "reminded_again", "at_fraction": 0.9, "notify": ["assignee"]},
            {"name": "overdue", "at_fraction": 1.0, "notify": ["assignee", "chair"]},
            {"name": "escalated", "offset": 6, "offset_unit": "hours", "notify": ["province"]},
        ],
        reason="Four rungs",
        now=at("2027-01-01T00:00"),
    )
    case = open_case(db, people, received_at="2027-03-01T08:00:00+07:00")

    def ladder() -> list[str]:
        return [r for rule, r in fired(db, case["id"]) if rule == "initial_assessment"]

    sweep(db, at("2027-03-01T13:59:00"))
    assert ladder() == []
    sweep(db, at("2027-03-01T14:00:00"))  # 50 %
    assert ladder() == ["reminded"]
    sweep(db, at("2027-03-01T18:48:00"))  # 90 %
    assert ladder() == ["reminded", "reminded_again"]
    sweep(db, at("2027-03-02T01:59:00"))
    assert ladder() == ["reminded", "reminded_again", "overdue"]
    sweep(db, at("2027-03-02T02:00:00"))  # due + 6 h
    assert ladder() == ["reminded", "reminded_again", "overdue", "escalated"]


def test_notification_text_has_reference_and_link_but_no_name(db, people) -> None:
    case = open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    sweep(db, at("2027-03-03T00:00:00"))
    with db.uow(readonly=True) as uow:
        notes = list(uow.session.scalars(sa.select(Notification)))
    assert notes
    for note in notes:
        assert case["reference"] in note.subject
        assert f"/cases/{case['id']}" in note.body
        assert "Lan" not in note.subject + note.body
    assert any("QUÁ HẠN" in n.subject for n in notes)  # users' default language: Vietnamese


def test_english_users_get_english_text(db, people) -> None:
    from casework.services.queries import inbox
    from casework.services.users import create_user
    from tests.conftest import PASSWORD

    chair_en = create_user(db, "chair.en", "chair", PASSWORD, unit_code="20194", locale="en")
    open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    sweep(db, at("2027-03-01T20:00:00"))
    subjects = sorted(n["subject"] for n in inbox(db, chair_en))
    assert subjects == [
        "[48-2027-000001] A case was transferred to your commune",
        "[48-2027-000001] Due soon: assignment",
        "[48-2027-000001] OVERDUE: assignment",
        "[48-2027-000001] OVERDUE: initial assessment",
    ]
    assert sorted(n["subject"] for n in inbox(db, people["chair"])) == [
        "[48-2027-000001] Ca được chuyển đến địa bàn",
        "[48-2027-000001] QUÁ HẠN: phân công xử lý",
        "[48-2027-000001] QUÁ HẠN: đánh giá ban đầu",
        "[48-2027-000001] Sắp đến hạn: phân công xử lý",
    ]


def test_sweep_ignores_deadlines_not_yet_due(db, people) -> None:
    open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    assert sweep(db, at("2027-03-01T08:30:00") + timedelta(minutes=1)) == {}
