"""The NĐ 56 workflow definition and the engine, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from workflows.case import CASE_WORKFLOW, OPEN_STATES
from workflows.engine import (
    EventNotAvailable,
    GuardRefused,
    InvalidEventData,
    UnknownEvent,
    available_events,
    describe,
    effective_rules,
    fire,
    machine_for,
)
from workflows.graph import mermaid, transition_graph
from workflows.spec import CaseSnapshot, DurationUnit

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)

#: domain.md §2, event table: event, from, to.
DOMAIN_TABLE = [
    ("transfer", "received", "transferred"),
    ("accept", "transferred", "initial_assessment"),
    ("assess", "initial_assessment", "specific_assessment"),
    ("assess", "initial_assessment", "emergency_protection"),
    ("mark_unfounded", "initial_assessment", "closed"),
    ("decide_emergency", "emergency_protection", "specific_assessment"),
    ("complete_assessment", "specific_assessment", "plan_drafting"),
    ("submit_plan", "plan_drafting", "plan_approval"),
    ("approve_plan", "plan_approval", "implementing"),
    ("return_plan", "plan_approval", "plan_drafting"),
    ("start_review", "implementing", "reviewing"),
    ("close", "reviewing", "closed"),
    ("replan", "reviewing", "plan_drafting"),
    ("reopen", "closed", "initial_assessment"),
]


def test_definition_matches_the_domain_table() -> None:
    declared = {
        (t.event, t.source, t.dest) for t in CASE_WORKFLOW.transitions if isinstance(t.source, str)
    }
    assert declared == set(DOMAIN_TABLE)
    transfer_out = [t for t in CASE_WORKFLOW.transitions if t.event == "transfer_out"]
    assert len(transfer_out) == 1 and set(transfer_out[0].source) == set(OPEN_STATES)


def test_one_shared_machine_without_models_or_auto_transitions() -> None:
    machine = machine_for("case")
    assert machine is machine_for("case")
    assert machine.models == []
    assert not machine.auto_transitions
    assert "to_closed" not in machine.events


def snapshot(state: str, **kwargs: Any) -> CaseSnapshot:
    return CaseSnapshot(state=state, now=NOW, **kwargs)


def test_serious_risk_goes_to_emergency_protection() -> None:
    case = snapshot("initial_assessment")
    fired = fire(
        CASE_WORKFLOW, case, "assess", {"verified": True, "risk_level": "serious", "findings": "x"}
    )
    assert fired.to_state == case.state == "emergency_protection"


def test_other_risk_goes_to_specific_assessment() -> None:
    case = snapshot("initial_assessment")
    fire(CASE_WORKFLOW, case, "assess", {"verified": True, "risk_level": "high", "findings": "x"})
    assert case.state == "specific_assessment"


def test_event_not_allowed_in_state_names_the_allowed_ones() -> None:
    with pytest.raises(EventNotAvailable, match="allowed: transfer, transfer_out"):
        fire(CASE_WORKFLOW, snapshot("received"), "approve_plan", {})


def test_unknown_event() -> None:
    with pytest.raises(UnknownEvent):
        fire(CASE_WORKFLOW, snapshot("received"), "teleport", {})


SEPARATED = {"separation": {"until": "2027-03-05", "extensions": []}}
GUARD_CASES = [
    (
        "emergency_protection",
        "decide_emergency",
        {"measures": "x", "separation": False, "separation_until": "2027-03-05"},
        {},
        None,
        "no separation is decided",
    ),
    (
        "specific_assessment",
        "extend_separation",
        {"separation_until": "2027-03-05", "reason": "x"},
        {},
        None,
        "no temporary separation is in force",
    ),
    (
        "implementing",
        "extend_separation",
        {"separation_until": "2027-03-21", "reason": "x"},
        SEPARATED,
        None,
        "at most 15 days",
    ),
    (
        "reviewing",
        "close",
        {"review": {"harm": "low", "abuser_access": "low", "environment": "low"}},
        SEPARATED,
        None,
        "end it first",
    ),
    ("plan_approval", "approve_plan", {}, {"plan": {"measures": [1]}}, None, "specific assessment"),
    ("plan_approval", "approve_plan", {}, {"specific_assessment": {}}, None, "no measures"),
    (
        "reviewing",
        "close",
        {"review": {"harm": "high", "abuser_access": "low", "environment": "low"}},
        {},
        None,
        "replan",
    ),
    (
        "emergency_protection",
        "decide_emergency",
        {"measures": "x", "separation": True},
        {},
        None,
        "separation_until is required",
    ),
    (
        "emergency_protection",
        "decide_emergency",
        {"measures": "x", "separation": True, "separation_until": "2027-03-20"},
        {},
        None,
        "within 15 days",
    ),
    (
        "specific_assessment",
        "complete_assessment",
        {"needs": "x", "meeting_minutes": "y"},
        {},
        "serious",
        "emergency protection has not been decided",
    ),
    (
        "initial_assessment",
        "assess",
        {"verified": False, "risk_level": "low", "findings": "x"},
        {},
        None,
        "not verified",
    ),
    (
        "plan_drafting",
        "submit_plan",
        {"measures": [{"agency_kind": "police", "action": "a", "due_date": "2027-02-01"}]},
        {},
        None,
        "in the past",
    ),
]


@pytest.mark.parametrize(("state", "event", "data", "facts", "risk", "message"), GUARD_CASES)
def test_guards_refuse_with_the_legal_reason(
    state: str,
    event: str,
    data: dict[str, Any],
    facts: dict[str, Any],
    risk: str | None,
    message: str,
) -> None:
    case = snapshot(state, facts=facts, risk_level=risk)
    with pytest.raises(GuardRefused, match=message):
        fire(CASE_WORKFLOW, case, event, data)
    assert case.state == state


BAD_DATA = [
    (
        "initial_assessment",
        "assess",
        {"risk_level": "low", "findings": "x"},
        "verified",
        "is required",
    ),
    (
        "initial_assessment",
        "assess",
        {"verified": "yes", "risk_level": "low", "findings": "x"},
        "verified",
        "true or false",
    ),
    (
        "initial_assessment",
        "assess",
        {"verified": True, "risk_level": "extreme", "findings": "x"},
        "risk_level",
        "one of: low, medium, high, serious",
    ),
    (
        "initial_assessment",
        "assess",
        {"verified": True, "risk_level": "low", "findings": "  "},
        "findings",
        "must not be empty",
    ),
    (
        "initial_assessment",
        "assess",
        {"verified": True, "risk_level": "low", "findings": "x", "color": "red"},
        "color",
        "unknown field",
    ),
    ("plan_drafting", "submit_plan", {"measures": []}, "measures", "at least 1"),
    (
        "plan_drafting",
        "submit_plan",
        {"measures": [{"agency_kind": "army", "action": "a", "due_date": "2027-05-01"}]},
        "measures[0].agency_kind",
        "one of",
    ),
    (
        "plan_drafting",
        "submit_plan",
        {"measures": [{"agency_kind": "police", "action": "a", "due_date": "31/05/2027"}]},
        "measures[0].due_date",
        "YYYY-MM-DD",
    ),
    ("reviewing", "close", {"review": {"harm": "low"}}, "review.abuser_access", "is required"),
    ("initial_assessment", "mark_unfounded", {}, "reason", "is required"),
]


@pytest.mark.parametrize(("state", "event", "data", "field", "message"), BAD_DATA)
def test_bad_event_data_names_the_field(
    state: str, event: str, data: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidEventData) as error:
        fire(CASE_WORKFLOW, snapshot(state), event, data)
    assert error.value.path == field
    assert message in error.value.message


def test_available_events_by_role() -> None:
    assert available_events(CASE_WORKFLOW, "plan_approval", "chair") == [
        "approve_plan",
        "return_plan",
        "transfer_out",
        "extend_separation",
        "end_separation",
    ]
    assert available_events(CASE_WORKFLOW, "plan_approval", "officer") == []
    assert available_events(CASE_WORKFLOW, "closed", "officer") == ["reopen"]


def test_every_deadline_cites_its_legal_source_and_steps_exist() -> None:
    for rule in CASE_WORKFLOW.deadlines:
        assert rule.legal_source.startswith("NĐ 56/2017")
        assert rule.step in CASE_WORKFLOW.states
        assert set(rule.opens_on) <= set(CASE_WORKFLOW.states)
        assert set(rule.met_on) <= set(CASE_WORKFLOW.states)


def test_province_override_changes_only_what_it_names() -> None:
    rules = effective_rules(
        CASE_WORKFLOW,
        [
            {
                "rule": "plan_submission",
                "duration": 4,
                "unit": "working_days",
                "assignee_role": None,
            },
        ],
    )
    plan = next(r for r in rules if r.name == "plan_submission")
    assert (plan.duration, plan.unit, plan.assignee_role) == (
        4,
        DurationUnit.WORKING_DAYS,
        "officer",
    )
    untouched = next(r for r in rules if r.name == "initial_assessment")
    assert untouched == CASE_WORKFLOW.rule("initial_assessment")


def test_show_and_diagram_list_every_state_and_event() -> None:
    text = describe(CASE_WORKFLOW)
    diagram = mermaid(transition_graph(CASE_WORKFLOW))
    assert diagram.splitlines()[3].startswith("stateDiagram-v2") or "stateDiagram-v2" in diagram
    for state in CASE_WORKFLOW.states:
        assert state in text and state in diagram
    for event in CASE_WORKFLOW.events:
        assert event in text and event in diagram
    # The separation's clock: anchored on the decision's own date, with its ladder.
    line = next(line for line in text.splitlines() if line.strip().startswith("separation_end"))
    assert "separation_until" in line and "met by extend_separation/end_separation" in line


def test_separation_events_are_offered_only_while_a_separation_is_in_force() -> None:
    from workflows.engine import offered_events

    assert "end_separation" not in offered_events(CASE_WORKFLOW, snapshot("implementing"), "chair")
    separated = snapshot("implementing", facts=SEPARATED)
    assert {"extend_separation", "end_separation"} <= set(
        offered_events(CASE_WORKFLOW, separated, "chair")
    )
