"""One label catalogue for pages and notifications, complete in both languages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casework import labels
from casework.models import AgencyKind, PlanTaskStatus, Role
from casework.notify import render
from workflows.case import RISK_LEVELS
from workflows.engine import get_workflow

WORKFLOW = get_workflow("case")


def both(kind: str, value: str) -> tuple[str, str]:
    entry = labels.CATALOGUE[kind].get(value)
    assert entry is not None, f"{kind} {value!r} has no label"
    vi, en = entry
    assert vi.strip() and en.strip(), f"{kind} {value!r} lacks a language"
    return vi, en


@pytest.mark.parametrize(
    ("kind", "ids"),
    [
        ("state", WORKFLOW.states),
        ("step", WORKFLOW.states),
        ("event", tuple(WORKFLOW.events) + ("receive",)),
        ("rule", tuple({rule.name.split(".")[0] for rule in WORKFLOW.deadlines})),
        ("role", tuple(Role)),
        ("task_status", tuple(PlanTaskStatus)),
        ("agency", tuple(AgencyKind)),
        ("risk", RISK_LEVELS),
        ("deadline_status", ("open", "overdue", "met", "met_late", "cancelled")),
        ("rung", tuple({r.name for rule in WORKFLOW.deadlines for r in rule.ladder})),
    ],
)
def test_every_id_of_the_workflow_has_both_languages(kind, ids) -> None:
    for value in ids:
        vi, en = both(kind, value)
        assert vi != value or kind == "agency", f"{kind} {value!r}: the Vietnamese is the id"


def test_legal_citations_read_as_an_official_writes_them() -> None:
    sources = {t.legal_source for t in WORKFLOW.transitions if t.legal_source}
    sources |= {rule.legal_source for rule in WORKFLOW.deadlines}
    for source in sources:
        vietnamese = labels.cite(source, "vi")
        assert "Art" not in vietnamese and "Điều" in vietnamese, (source, vietnamese)
        assert "Art" in labels.cite(source, "en"), source
    assert labels.cite("NĐ 56/2017 Art. 30(1)(b)", "vi") == (
        "điểm b khoản 1 Điều 30 Nghị định 56/2017/NĐ-CP"
    )


def test_notifications_and_pages_name_a_step_alike() -> None:
    due = datetime(2027, 2, 3, 10, tzinfo=UTC)
    subject, _ = render("vi", "overdue", "48-2027-000001", "initial_assessment", due, "x")
    assert labels.text("step", "initial_assessment", "vi") in subject
    subject, _ = render("en", "overdue", "48-2027-000001", "plan_drafting", due, "x", "police")
    assert subject == "[48-2027-000001] OVERDUE: task for police"


def all_fields(fields, path=""):
    from workflows.spec import Kind

    for spec in fields:
        yield f"{path}{spec.name}", spec
        kind = spec.type
        if kind.kind == Kind.LIST and kind.item is not None:
            kind = kind.item
        if kind.kind == Kind.RECORD:
            yield from all_fields(kind.fields, f"{path}{spec.name}.")


def every_form():
    from casework.services import forms
    from casework.services.intake import REPORT_FIELDS

    yield "report", REPORT_FIELDS
    yield "assign", forms.ASSIGN
    yield "task_answer", forms.TASK_ANSWER
    yield "match_decision", forms.MATCH_DECISION
    for name, event in WORKFLOW.events.items():
        yield name, event.fields


def test_every_field_and_choice_of_every_form_has_both_languages() -> None:
    from workflows.spec import Kind

    for form, fields in every_form():
        for path, spec in all_fields(fields):
            both("field", spec.label_key)
            kind = spec.type.item if spec.type.kind == Kind.LIST else spec.type
            if kind is not None and kind.kind == Kind.CHOICE:
                assert kind.choice_labels, f"{form}.{path}: its choices have no labels"
                for value in kind.choices:
                    both(kind.choice_labels, value)
