"""Every transition, and the guards, through the service layer on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from casework.errors import Conflict, EventNotAllowed, PermissionDenied, ValidationError
from casework.models import AuditEvent, CaseTransition, PlanTask
from casework.services.cases import fire_event
from casework.services.queries import get_case
from tests.conftest import HOME, NEIGHBOUR, at
from tests.helpers import RECEIVED, TO_STATE, case_in, drive, open_case, step

T0 = at(RECEIVED[:19]) + timedelta(minutes=10)
LATER = T0 + timedelta(days=1)


def history_events(db, case_id: int) -> list[str]:
    with db.uow(readonly=True) as uow:
        return list(
            uow.session.scalars(
                sa.select(CaseTransition.event)
                .where(CaseTransition.case_id == case_id)
                .order_by(CaseTransition.seq)
            )
        )


def test_intake_opens_a_case_and_transfers_it_to_the_incident_commune(db, people) -> None:
    case = open_case(db, people)
    assert case["state"] == "transferred"
    assert case["unit_code"] == HOME
    assert history_events(db, case["id"]) == ["receive", "transfer"]


def test_intake_without_auto_transfer_waits_in_received(db, people) -> None:
    case = open_case(db, people, auto_transfer=False)
    assert case["state"] == "received"
    view = fire_event(
        db,
        people["intake"],
        case["id"],
        "transfer",
        case["version"],
        {"unit_code": NEIGHBOUR},
        now=T0,
    )
    assert (view["state"], view["unit_code"]) == ("transferred", NEIGHBOUR)


@pytest.mark.parametrize("target", list(TO_STATE))
def test_each_state_is_reached_through_its_events(db, people, target) -> None:
    view = case_in(db, people, target)
    assert view["state"] == target
    # receive + transfer, then one history row per event of the path
    assert len(history_events(db, view["id"])) == 2 + len(TO_STATE[target])


def test_emergency_branch_needs_the_chairs_decision(db, people) -> None:
    view = case_in(db, people, "emergency_protection")
    assert view["available_events"] == []  # the officer who assessed can do nothing here
    with pytest.raises(PermissionDenied):
        step(db, people, view["id"], "decide_emergency", LATER, actor="officer")
    view = step(db, people, view["id"], "decide_emergency", LATER)
    assert view["state"] == "specific_assessment"
    assert "child" not in view and "history" not in view  # an event's answer is lean
    full = get_case(db, people["chair"], view["id"], now=LATER)
    assert full["facts"]["emergency_decision"]["by"] == people["chair"].id


def test_mark_unfounded_closes_from_initial_assessment(db, people) -> None:
    view = case_in(db, people, "initial_assessment")
    view = step(db, people, view["id"], "mark_unfounded", LATER)
    assert view["state"] == "closed"


def test_return_plan_goes_back_to_drafting(db, people) -> None:
    view = case_in(db, people, "plan_approval")
    view = step(db, people, view["id"], "return_plan", LATER)
    assert view["state"] == "plan_drafting"
    assert history_events(db, view["id"])[-1] == "return_plan"


def test_replan_from_review_starts_a_new_plan_cycle(db, people) -> None:
    view = case_in(db, people, "reviewing")
    view = step(db, people, view["id"], "replan", LATER)
    assert view["state"] == "plan_drafting"
    cycles = {(d["rule"], d["cycle"]) for d in view["deadlines"]}
    assert ("plan_submission", 2) in cycles and ("plan_approval", 2) in cycles


def test_reopen_a_closed_case(db, people) -> None:
    view = case_in(db, people, "closed")
    view = step(db, people, view["id"], "reopen", LATER)
    assert view["state"] == "initial_assessment"


def test_transfer_out_to_another_commune(db, people) -> None:
    view = case_in(db, people, "specific_assessment")
    view = fire_event(
        db,
        people["chair"],
        view["id"],
        "transfer_out",
        view["version"],
        {"unit_code": NEIGHBOUR, "reason": "trẻ sống ở Thanh Khê"},
        now=LATER,
    )
    assert (view["state"], view["unit_code"], view["assignee"]) == ("transferred", NEIGHBOUR, None)
    # The old commune no longer sees it; the new one does.
    from casework.errors import NotFound

    with pytest.raises(NotFound):
        get_case(db, people["officer"], view["id"], now=LATER)
    assert get_case(db, people["officer.2"], view["id"], now=LATER)["state"] == "transferred"


def test_transfer_out_to_the_same_commune_is_refused(db, people) -> None:
    view = case_in(db, people, "specific_assessment")
    with pytest.raises(ValidationError, match="already at this commune"):
        fire_event(
            db,
            people["chair"],
            view["id"],
            "transfer_out",
            view["version"],
            {"unit_code": HOME, "reason": "x"},
            now=LATER,
        )


def test_transfer_to_a_dissolved_commune_is_refused(db, people) -> None:
    view = case_in(db, people, "specific_assessment")
    with pytest.raises(ValidationError, match="dissolved"):
        fire_event(
            db,
            people["chair"],
            view["id"],
            "transfer_out",
            view["version"],
            {"unit_code": "20308", "reason": "x"},
            now=LATER,
        )


def test_approved_plan_becomes_agency_tasks(db, people) -> None:
    view = case_in(db, people, "implementing")
    assert {t["agency_kind"] for t in view["tasks"]} == {"police", "health"}
    with db.uow(readonly=True) as uow:
        police_task = uow.session.scalars(
            sa.select(PlanTask).where(PlanTask.agency_kind == "police")
        ).one()
        assert police_task.agency_id == people["police"].agency_id


def test_no_plan_approval_without_assessment_even_if_forced(db, people) -> None:
    # Facts are the guard's evidence: remove the assessment and approval is refused.
    view = case_in(db, people, "plan_approval")
    from casework.models import Case

    with db.uow() as uow:
        case = uow.session.get(Case, view["id"])
        facts = dict(case.facts)
        facts.pop("specific_assessment")
        case.facts = facts
        uow.commit()
    with pytest.raises(EventNotAllowed, match="without a specific assessment"):
        step(db, people, view["id"], "approve_plan", LATER)


def test_no_closure_while_the_review_finds_high_risk(db, people) -> None:
    view = case_in(db, people, "reviewing")
    with pytest.raises(EventNotAllowed, match="replan"):
        step(
            db,
            people,
            view["id"],
            "close",
            LATER,
            data={"review": {"harm": "high", "abuser_access": "low", "environment": "low"}},
        )
    with pytest.raises(ValidationError, match="review"):
        step(db, people, view["id"], "close", LATER, data={})


def test_event_in_the_wrong_state_is_refused_and_nothing_is_written(db, people) -> None:
    view = case_in(db, people, "initial_assessment")
    with db.uow(readonly=True) as uow:
        audit_before = uow.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    with pytest.raises(EventNotAllowed, match="not allowed in state 'initial_assessment'"):
        step(db, people, view["id"], "approve_plan", LATER)
    with db.uow(readonly=True) as uow:
        assert uow.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == audit_before
    assert get_case(db, people["officer"], view["id"], now=LATER)["version"] == view["version"]


def test_wrong_role_is_forbidden(db, people) -> None:
    view = case_in(db, people, "plan_approval")
    with pytest.raises(PermissionDenied, match="may not fire 'approve_plan'"):
        step(db, people, view["id"], "approve_plan", LATER, actor="officer")


def test_stale_version_is_a_conflict(db, people) -> None:
    view = case_in(db, people, "initial_assessment")
    with pytest.raises(Conflict):
        fire_event(
            db,
            people["officer"],
            view["id"],
            "assess",
            view["version"] - 1,
            {"verified": True, "risk_level": "low", "findings": "x"},
            now=LATER,
        )


def test_accept_names_an_officer_of_the_commune_only(db, people) -> None:
    case = open_case(db, people)
    with pytest.raises(ValidationError, match="not an officer of the case's commune"):
        fire_event(
            db,
            people["chair"],
            case["id"],
            "accept",
            case["version"],
            {"assignee": "officer.2"},
            now=LATER,
        )
    view = fire_event(db, people["officer"], case["id"], "accept", case["version"], {}, now=LATER)
    assert view["assignee"] == "officer"


def test_every_transition_writes_history_and_audit(db, people) -> None:
    view = case_in(db, people, "closed")
    events = history_events(db, view["id"])
    assert events == ["receive", "transfer", *TO_STATE["closed"]]
    with db.uow(readonly=True) as uow:
        actions = list(
            uow.session.scalars(
                sa.select(AuditEvent.action)
                .where(AuditEvent.case_id == view["id"])
                .order_by(AuditEvent.id)
            )
        )
    for event in TO_STATE["closed"]:
        assert f"case.{event}" in actions


def test_drive_helper_uses_the_real_services(db, people) -> None:
    case = open_case(db, people)
    view = drive(db, people, case["id"], ["accept", "assess"], T0)
    assert view["risk_level"] == "medium"


def _tamper(db, case_id: int, risk_level=None, drop_fact=None) -> None:
    from casework.models import Case

    with db.uow() as uow:
        case = uow.session.get(Case, case_id)
        if risk_level:
            case.risk_level = risk_level
        if drop_fact:
            facts = dict(case.facts)
            facts.pop(drop_fact, None)
            case.facts = facts
        uow.commit()


#: Every legal guard refusing through the services: state, event, actor, data, tampering,
#: and the reason the user reads.
GUARD_REFUSALS = [
    (
        "initial_assessment",
        "assess",
        "officer",
        {"verified": False, "risk_level": "medium", "findings": "x"},
        {},
        "not verified",
    ),
    (
        "emergency_protection",
        "decide_emergency",
        "chair",
        {"measures": "x", "separation": True},
        {},
        "separation_until is required",
    ),
    (
        "emergency_protection",
        "decide_emergency",
        "chair",
        {"measures": "x", "separation": True, "separation_until": "2027-03-30"},
        {},
        "within 15 days",
    ),
    (
        "emergency_protection",
        "decide_emergency",
        "chair",
        {"measures": "x", "separation": True, "separation_until": "2027-02-01"},
        {},
        "after today",
    ),
    (
        "specific_assessment",
        "complete_assessment",
        "officer",
        {"needs": "x", "meeting_minutes": "y"},
        {"risk_level": "serious"},
        "emergency protection has not been decided",
    ),
    (
        "plan_drafting",
        "submit_plan",
        "officer",
        {"measures": [{"agency_kind": "police", "action": "a", "due_date": "2027-01-01"}]},
        {},
        "in the past",
    ),
    (
        "plan_approval",
        "approve_plan",
        "chair",
        {},
        {"drop_fact": "specific_assessment"},
        "without a specific assessment",
    ),
    ("plan_approval", "approve_plan", "chair", {}, {"drop_fact": "plan"}, "no measures"),
    (
        "reviewing",
        "close",
        "chair",
        {"review": {"harm": "low", "abuser_access": "high", "environment": "low"}},
        {},
        "replan",
    ),
]


@pytest.mark.parametrize(("state", "event", "actor", "data", "tamper", "message"), GUARD_REFUSALS)
def test_every_guard_refuses_through_the_services(
    db, people, state, event, actor, data, tamper, message
) -> None:
    view = case_in(db, people, state)
    if tamper:
        _tamper(db, view["id"], **tamper)
    before = get_case(db, people["chair"], view["id"], now=LATER)
    with pytest.raises(EventNotAllowed, match=message):
        fire_event(
            db,
            people[actor],
            view["id"],
            event,
            before["version"],
            data,
            now=at("2027-02-04T10:00:00"),
        )
    after = get_case(db, people["chair"], view["id"], now=LATER)
    assert (after["state"], after["version"]) == (before["state"], before["version"])
    assert after["history"] == before["history"]


def test_a_second_plan_after_replan_replaces_the_unanswered_tasks(db, people) -> None:
    """The first plan's tasks that no agency answered give way to the second plan's (their
    clocks stop); nothing is doubled, nothing is lost from the record."""
    view = case_in(db, people, "reviewing")
    first = {t["id"] for t in view["tasks"]}
    assert len(first) == 2
    for event in ("replan", "submit_plan", "approve_plan"):
        view = step(db, people, view["id"], event, LATER)
    assert view["state"] == "implementing"
    live = [t for t in view["tasks"] if t["status"] == "proposed"]
    assert len(live) == 2 and not {t["id"] for t in live} & first
    open_task_clocks = [d for d in view["deadlines"] if d["task_id"] and d["status"] == "open"]
    assert {d["task_id"] for d in open_task_clocks} == {t["id"] for t in live}
