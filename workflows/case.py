"""The child-protection case workflow of NĐ 56/2017/NĐ-CP, Chapter III (Arts. 25–32).

Read it like the table in domain.md §2: states, then events (who fires them and the data
they need), then transitions with their legal guards, then the deadlines of each step.
Every duration here is a national default; a province overrides it from data
(`deadline_overrides`), never by editing this file.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from workflows.spec import (
    Anchor,
    CaseSnapshot,
    DeadlineRule,
    DurationUnit,
    EventSpec,
    FieldSpec,
    Rung,
    TransitionSpec,
    WorkflowDefinition,
    boolean,
    choice,
    iso_date,
    list_of,
    record,
    text,
)

RISK_LEVELS = ("low", "medium", "high", "serious")
REVIEW_LEVELS = ("low", "medium", "high")
AGENCY_KINDS = ("police", "health", "education", "justice", "social_services", "other")
#: Temporary separation lasts at most 15 days before it ends or is extended (Art. 32); an
#: extension adds at most as much again to the current end (domain.md: "≤ 15 days,
#: extendable"; no limit on the number of extensions is encoded).
MAX_SEPARATION_DAYS = 15
#: Where a child goes when the temporary separation ends.
PLACEMENTS = ("family", "relatives", "foster_care", "care_facility", "other")

STATES = (
    "received",
    "transferred",
    "initial_assessment",
    "emergency_protection",
    "specific_assessment",
    "plan_drafting",
    "plan_approval",
    "implementing",
    "reviewing",
    "closed",
)
OPEN_STATES = tuple(state for state in STATES if state != "closed")
#: Where an emergency decision may already have been taken (a separation may be in force).
AFTER_RECEIPT = tuple(state for state in OPEN_STATES if state != "received")

INTAKE, OFFICER, CHAIR, PROVINCE = "intake", "officer", "chair", "province"
#: What intake staff follow of a case they recorded (domain.md §4): its steps up to the
#: initial assessment, not what the assessment found (clocks of later steps reveal it).
INTAKE_STEPS = ("received", "transferred", "initial_assessment")

# --- events: who, and the data each needs ---------------------------------------------------

reason = FieldSpec("reason", text(2000))
unit_code = FieldSpec("unit_code", text(8, options="communes"), label="destination_unit")

EVENTS = {
    spec.name: spec
    for spec in (
        EventSpec(
            "transfer",
            by=(INTAKE, OFFICER, CHAIR, PROVINCE),
            fields=(FieldSpec("unit_code", text(8, options="communes"), required=False),),
            help="Pass the report to the commune where the incident happened",
        ),
        EventSpec(
            "accept",
            by=(CHAIR, OFFICER),
            fields=(FieldSpec("assignee", text(80, options="commune_officers"), required=False),),
            help="The commune takes the case and names the officer",
        ),
        EventSpec(
            "assess",
            by=(OFFICER,),
            fields=(
                FieldSpec("verified", boolean()),
                FieldSpec("risk_level", choice(*RISK_LEVELS, labels="risk")),
                FieldSpec("findings", text()),
            ),
            help="Initial risk and harm assessment (Mẫu 02)",
        ),
        EventSpec(
            "mark_unfounded",
            by=(OFFICER,),
            fields=(reason,),
            help="The information could not be verified: close",
        ),
        EventSpec(
            "decide_emergency",
            by=(CHAIR,),
            fields=(
                FieldSpec("measures", text()),
                FieldSpec("separation", boolean(), required=False),
                FieldSpec("separation_until", iso_date(), required=False),
                FieldSpec("shelter", text(500), required=False),
            ),
            help="The chairperson's emergency decision (Arts. 31–32)",
        ),
        EventSpec(
            "extend_separation",
            by=(CHAIR,),
            offered_when=lambda case: separation_in_force(case, {}) is None,
            fields=(FieldSpec("separation_until", iso_date()), reason),
            help="The chairperson extends the temporary separation (Art. 32)",
        ),
        EventSpec(
            "end_separation",
            by=(CHAIR,),
            offered_when=lambda case: separation_in_force(case, {}) is None,
            fields=(
                FieldSpec("placement", choice(*PLACEMENTS, labels="placement")),
                FieldSpec("note", text(2000), required=False),
            ),
            help="The temporary separation ends: where the child goes (Art. 32)",
        ),
        EventSpec(
            "complete_assessment",
            by=(OFFICER,),
            fields=(FieldSpec("needs", text()), FieldSpec("meeting_minutes", text())),
            help="Specific risk assessment and needs (Mẫu 03)",
        ),
        EventSpec(
            "submit_plan",
            by=(OFFICER,),
            fields=(
                FieldSpec(
                    "measures",
                    list_of(
                        record(
                            FieldSpec("agency_kind", choice(*AGENCY_KINDS, labels="agency")),
                            FieldSpec("action", text(2000)),
                            FieldSpec("responsible", text(200), required=False),
                            FieldSpec("due_date", iso_date(max_years_ahead=5)),
                        )
                    ),
                    label="plan_measures",
                ),
            ),
            help="Support/intervention plan (Mẫu 04)",
        ),
        EventSpec("approve_plan", by=(CHAIR,), help="Approve the plan (Mẫu 05)"),
        EventSpec("return_plan", by=(CHAIR,), fields=(reason,), help="Send the plan back"),
        EventSpec("start_review", by=(OFFICER,), help="Review the child's situation (Art. 30)"),
        EventSpec(
            "close",
            by=(CHAIR,),
            fields=(
                FieldSpec(
                    "review",
                    record(
                        FieldSpec("harm", choice(*REVIEW_LEVELS, labels="review_level")),
                        FieldSpec("abuser_access", choice(*REVIEW_LEVELS, labels="review_level")),
                        FieldSpec(
                            "environment",
                            choice(*REVIEW_LEVELS, labels="review_level"),
                            label="review_environment",
                        ),
                    ),
                ),
                FieldSpec("note", text(), required=False),
            ),
            help="End the plan: the child is safe and stable (Mẫu 06)",
        ),
        EventSpec(
            "replan",
            by=(OFFICER,),
            fields=(reason,),
            help="Still at risk: make a new plan (Art. 30(1)(c))",
        ),
        EventSpec("reopen", by=(OFFICER,), fields=(reason,), help="A new report on a closed case"),
        EventSpec(
            "transfer_out",
            by=(CHAIR, PROVINCE),
            fields=(unit_code, reason),
            help="The child lives elsewhere: hand over to another commune",
        ),
    )
}

# --- guards: each cites the rule it enforces ------------------------------------------------


def risk_is_serious(case: CaseSnapshot, data: dict[str, Any]) -> bool:
    return data.get("risk_level") == "serious"


def assessment_verified_or_serious(case: CaseSnapshot, data: dict[str, Any]) -> str | None:
    # An unverified report cannot go on to planning: it is either closed as unfounded or,
    # when harm is serious, protected first (NĐ 56 Art. 26(2)-(3)).
    if not data.get("verified") and data.get("risk_level") != "serious":
        return "information not verified: use mark_unfounded, or assess again once verified"
    return None


def _today(case: CaseSnapshot) -> date:
    return case.now.date() if case.now else date.today()


def separation_needs_valid_end(case: CaseSnapshot, data: dict[str, Any]) -> str | None:
    # NĐ 56 Art. 32: temporary separation up to 15 days, then ended or extended.
    until = data.get("separation_until")
    if not data.get("separation"):
        if until is not None:
            return "separation_until is given but no separation is decided (separation: true)"
        return None
    if until is None:
        return "separation_until is required when separation is decided"
    if separation_in_force(case, data) is None:
        return "a temporary separation is already in force: extend it (extend_separation)"
    today = _today(case)
    end = date.fromisoformat(until)
    if end <= today:
        return "separation_until must be after today"
    if end > today + timedelta(days=MAX_SEPARATION_DAYS):
        return f"separation_until must be within {MAX_SEPARATION_DAYS} days (NĐ 56 Art. 32)"
    return None


def separation_in_force(case: CaseSnapshot, data: dict[str, Any]) -> str | None:
    separation = case.facts.get("separation")
    if not separation or "ended" in separation:
        return "no temporary separation is in force on this case"
    return None


def extension_within_limit(case: CaseSnapshot, data: dict[str, Any]) -> str | None:
    # NĐ 56 Art. 32: the chairperson may extend the separation, by up to 15 days again.
    separation = case.facts.get("separation") or {}
    if "until" not in separation:
        return None  # separation_in_force refuses
    current = date.fromisoformat(separation["until"])
    end = date.fromisoformat(data["separation_until"])
    if end <= current:
        return f"separation_until must be after the current end ({current.isoformat()})"
    if end <= _today(case):
        return "separation_until must be after today"
    limit = current + timedelta(days=MAX_SEPARATION_DAYS)
    if end > limit:
        return (
            f"an extension adds at most {MAX_SEPARATION_DAYS} days: separation_until must be "
            f"on or before {limit.isoformat()} (NĐ 56 Art. 32)"
        )
    return None


def separation_ended(case: CaseSnapshot, data: dict[str, Any]) -> str | None:
    # NĐ 56 Arts. 30, 32: the plan ends only once the temporary separation has ended (the
    # child's placement is decided); closing must not leave a separation unwatched.
    if separation_in_force(case, data) is None:
        return "a temporary separation is in force: end it first (end_separation)"
    return None


def measures_not_in_past(case: CaseSnapshot, data: dict[str, Any]) -> str | None:
    today = case.now.date() if case.now else date.today()
    for index, measure in enumerate(data.get("measures", [])):
        if date.fromisoformat(measure["due_date"]) < today:
            return f"measures[{index}].due_date is in the past"
    return None


def plan_has_assessment(case: CaseSnapshot, data: dict[str, Any]) -> str | None:
    # NĐ 56 Art. 27–28: no plan approval without the specific assessment (Mẫu 03).
    if "specific_assessment" not in case.facts:
        return "the plan cannot be approved without a specific assessment (Mẫu 03)"
    if not case.facts.get("plan", {}).get("measures"):
        return "the plan has no measures"
    return None


def emergency_decided(case: CaseSnapshot, data: dict[str, Any]) -> str | None:
    # NĐ 56 Art. 26(3): a seriously harmed child is not assessed further before the
    # chairperson has decided on emergency protection.
    if case.risk_level == "serious" and "emergency_decision" not in case.facts:
        return "emergency protection has not been decided by the chairperson"
    return None


def review_recorded(case: CaseSnapshot, data: dict[str, Any]) -> str | None:
    # NĐ 56 Art. 30(1)(b): closure only on a review (Mẫu 06) finding the child safe.
    review = data.get("review") or {}
    if any(review.get(key) == "high" for key in ("harm", "abuser_access", "environment")):
        return "the review still finds high risk: replan instead of closing (Art. 30(1)(c))"
    return None


TRANSITIONS = (
    TransitionSpec("transfer", "received", "transferred", legal_source="NĐ 56 Art. 26(1)"),
    TransitionSpec("accept", "transferred", "initial_assessment", legal_source="Art. 26(1)"),
    TransitionSpec(
        "assess",
        "initial_assessment",
        "emergency_protection",
        when=risk_is_serious,
        legal_source="Art. 26(3)",
    ),
    TransitionSpec(
        "assess",
        "initial_assessment",
        "specific_assessment",
        unless=risk_is_serious,
        guards=(assessment_verified_or_serious,),
        legal_source="Art. 26(2)",
    ),
    TransitionSpec(
        "mark_unfounded",
        "initial_assessment",
        "closed",
        guards=(separation_ended,),
        legal_source="Art. 26(2)",
    ),
    TransitionSpec(
        "decide_emergency",
        "emergency_protection",
        "specific_assessment",
        guards=(separation_needs_valid_end,),
        legal_source="Arts. 31–32",
    ),
    TransitionSpec(
        "complete_assessment",
        "specific_assessment",
        "plan_drafting",
        guards=(emergency_decided,),
        legal_source="Art. 27",
    ),
    TransitionSpec(
        "submit_plan",
        "plan_drafting",
        "plan_approval",
        guards=(measures_not_in_past,),
        legal_source="Art. 28(1)",
    ),
    TransitionSpec(
        "approve_plan",
        "plan_approval",
        "implementing",
        guards=(plan_has_assessment,),
        legal_source="Art. 28",
    ),
    TransitionSpec("return_plan", "plan_approval", "plan_drafting", legal_source="Art. 28"),
    TransitionSpec("start_review", "implementing", "reviewing", legal_source="Art. 30"),
    TransitionSpec(
        "close",
        "reviewing",
        "closed",
        guards=(review_recorded, separation_ended),
        legal_source="Art. 30(1)(b)",
    ),
    TransitionSpec("replan", "reviewing", "plan_drafting", legal_source="Art. 30(1)(c)"),
    TransitionSpec("reopen", "closed", "initial_assessment", legal_source="Art. 25"),
    TransitionSpec("transfer_out", OPEN_STATES, "transferred", legal_source="Art. 26(1)"),
    # The separation outlives the emergency step: the case stays where it is.
    TransitionSpec(
        "extend_separation",
        AFTER_RECEIPT,
        None,
        guards=(separation_in_force, extension_within_limit),
        legal_source="Art. 32",
    ),
    TransitionSpec(
        "end_separation", AFTER_RECEIPT, None, guards=(separation_in_force,), legal_source="Art. 32"
    ),
)

# --- deadlines, next to their step ----------------------------------------------------------

H, WD, CD = DurationUnit.HOURS, DurationUnit.WORKING_DAYS, DurationUnit.CALENDAR_DAYS
BEFORE_PLAN = ("received", "transferred", "initial_assessment")
PLANNING = ("emergency_protection", "specific_assessment", "plan_drafting")


#: ServiceNow-style default ladder (domain.md §3): reminder at 75 %, overdue at due,
#: escalation a day after (a working day for working-day steps).
def default_ladder(unit: DurationUnit) -> tuple[Rung, ...]:
    escalate_unit = WD if unit is WD else H
    return (
        Rung("reminded", at_fraction=0.75, notify=("assignee",)),
        Rung("overdue", at_fraction=1.0, notify=("assignee", "chair")),
        Rung(
            "escalated",
            offset=1 if escalate_unit is WD else 24,
            offset_unit=escalate_unit,
            notify=("province",),
        ),
    )


DEADLINES = (
    DeadlineRule(
        "transfer",
        step="received",
        duration=2,
        unit=H,
        anchor=Anchor.RECEIPT,
        opens_on=("received",),
        met_on=("transferred",),
        assignee_role=INTAKE,
        legal_source="NĐ 56/2017 Art. 26(1)",
        ladder=default_ladder(H),
    ),
    DeadlineRule(
        "assignment",
        step="transferred",
        duration=3,
        high_risk_duration=1,
        unit=H,
        anchor=Anchor.STEP_ENTRY,
        opens_on=("transferred",),
        met_on=("initial_assessment",),
        assignee_role=CHAIR,
        legal_source="NĐ 56/2017 Art. 26(1)",
        ladder=default_ladder(H),
    ),
    DeadlineRule(
        "initial_assessment",
        step="initial_assessment",
        duration=12,
        unit=H,
        anchor=Anchor.RECEIPT,
        opens_on=BEFORE_PLAN,
        met_on=("emergency_protection", "specific_assessment", "closed"),
        legal_source="NĐ 56/2017 Art. 26(2)",
        ladder=default_ladder(H),
    ),
    DeadlineRule(
        "emergency_decision",
        step="emergency_protection",
        duration=12,
        unit=H,
        anchor=Anchor.RECEIPT,
        opens_on=("emergency_protection",),
        met_on=("specific_assessment",),
        assignee_role=CHAIR,
        legal_source="NĐ 56/2017 Art. 26(3)",
        ladder=default_ladder(H),
    ),
    DeadlineRule(
        "plan_submission",
        step="plan_drafting",
        duration=5,
        unit=WD,
        anchor=Anchor.RECEIPT,
        opens_on=PLANNING,
        met_on=("plan_approval",),
        legal_source="NĐ 56/2017 Art. 28(1)",
        ladder=default_ladder(WD),
    ),
    DeadlineRule(
        "plan_approval",
        step="plan_approval",
        duration=7,
        unit=WD,
        anchor=Anchor.RECEIPT,
        opens_on=(*PLANNING, "plan_approval"),
        met_on=("implementing",),
        assignee_role=CHAIR,
        legal_source="NĐ 56/2017 Art. 28; TTHC 2.001947",
        ladder=default_ladder(WD),
    ),
    DeadlineRule(
        "review",
        step="implementing",
        duration=30,
        unit=CD,
        anchor=Anchor.STEP_ENTRY,
        opens_on=("implementing",),
        met_on=("reviewing",),
        legal_source="NĐ 56/2017 Art. 30",
        ladder=default_ladder(CD),
    ),
    # The end of a temporary separation, as decided (or extended) by the chairperson: a
    # reminder before it, overdue and escalation when it passes with no decision. It runs
    # whatever the step, until the separation is ended or extended (a new clock).
    DeadlineRule(
        "separation_end",
        step="emergency_protection",
        duration=0,  # the date is the decision's own (separation_until)
        unit=CD,
        anchor=Anchor.EVENT_DATE,
        anchor_field="separation_until",
        opens_on=(),
        met_on=(),
        runs_in=AFTER_RECEIPT,
        opened_by=("decide_emergency", "extend_separation"),
        met_by=("extend_separation", "end_separation"),
        assignee_role=CHAIR,
        legal_source="NĐ 56/2017 Art. 32",
        ladder=default_ladder(CD),
    ),
)

# --- agency tasks: their own clocks, opened when the plan is approved -------------------------

#: Where an agency's task may still be under way: while the plan runs and is reviewed, and
#: while a new plan is made (its approval supersedes only the unanswered tasks). Moving the
#: case to another commune cancels them.
TASK_STATES = ("implementing", "reviewing", "plan_drafting", "plan_approval")

#: How long each kind of agency has to accept or decline a task referred to it (defaults;
#: police answer within a day under Quy chế 05/QC-BCA-BLĐTBXH-BTTTT 2022).
TASK_RESPONSE = {
    "police": (24, H),
    "health": (24, H),
    "education": (3, WD),
    "justice": (5, WD),
    "social_services": (3, WD),
    "other": (5, WD),
}


def task_ladder(unit: DurationUnit) -> tuple[Rung, ...]:
    """Agency focal point → the agency's supervisor → the commune leader."""
    escalate_unit = WD if unit is WD else H
    return (
        Rung("reminded", at_fraction=0.75, notify=("agency",)),
        Rung("overdue", at_fraction=1.0, notify=("agency", "agency_supervisor")),
        Rung(
            "escalated",
            offset=1 if escalate_unit is WD else 24,
            offset_unit=escalate_unit,
            notify=("chair",),
        ),
    )


TASK_DEADLINES = tuple(
    DeadlineRule(
        f"task_response.{kind}",
        step="implementing",
        duration=amount,
        unit=unit,
        anchor=Anchor.STEP_ENTRY,
        opens_on=(),
        met_on=(),
        assignee_role="agency",
        runs_in=TASK_STATES,
        legal_source="NĐ 56/2017 Art. 29; Luật Trẻ em Art. 49–50",
        ladder=task_ladder(unit),
    )
    for kind, (amount, unit) in TASK_RESPONSE.items()
) + (
    # Due at office close of the task's own date in the plan (Mẫu 04).
    DeadlineRule(
        "task_completion",
        step="implementing",
        duration=0,
        unit=WD,
        anchor=Anchor.STEP_ENTRY,
        opens_on=(),
        met_on=(),
        assignee_role="agency",
        runs_in=TASK_STATES,
        legal_source="NĐ 56/2017 Art. 29 (date set in the plan)",
        ladder=task_ladder(WD),
    ),
)

#: Events that start a new cycle of the statutory clocks (a new report, a new plan).
NEW_CYCLE_EVENTS = ("reopen", "replan")

CASE_WORKFLOW = WorkflowDefinition(
    name="case",
    states=STATES,
    initial="received",
    final=("closed",),
    events=EVENTS,
    transitions=TRANSITIONS,
    deadlines=DEADLINES + TASK_DEADLINES,
    legal_basis="Luật Trẻ em 2016; Nghị định 56/2017/NĐ-CP Chương III",
)
