"""The actions on a case in the browser: each event's form drawn from its fields (Flask's
test client, both databases)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from casework.models import AuditEvent, Case, CaseTransition, PlanTask
from tests.conftest import PASSWORD, report_payload
from tests.helpers import case_in, open_case


def login(client, username: str) -> None:
    assert (
        client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    )


def recent_case(db, people):
    received = (datetime.now().astimezone() - timedelta(hours=1)).replace(microsecond=0)
    return open_case(db, people, now=datetime.now().astimezone(), received_at=received.isoformat())


def state_of(db, case_id: int) -> str:
    with db.uow(readonly=True) as uow:
        return uow.session.get(Case, case_id).state


def count(db, model) -> int:
    with db.uow(readonly=True) as uow:
        return uow.session.scalar(sa.select(sa.func.count()).select_from(model))


def changes(db) -> int:
    """Audit events other than reads (every page view of a case is an audited read)."""
    with db.uow(readonly=True) as uow:
        return uow.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action != "case.read")
        )


def version_in(page) -> str:
    import re

    return re.search(r'name="version" type="hidden" value="(\d+)"', page.text).group(1)


def test_the_case_page_links_the_actions_the_user_may_take(client, db, people) -> None:
    case = recent_case(db, people)
    login(client, "chair")
    page = client.get(f"/cases/{case['id']}")
    assert f"/cases/{case['id']}/actions/accept" in page.text
    assert "Tiếp nhận và phân công" in page.text


def test_accept_then_initial_assessment_through_the_forms(client, db, people) -> None:
    case = recent_case(db, people)
    login(client, "chair")
    form = client.get(f"/cases/{case['id']}/actions/accept")
    assert form.status_code == 200
    assert 'name="assignee"' in form.text and "Người phụ trách" in form.text
    done = client.post(
        f"/cases/{case['id']}/actions/accept",
        data={"assignee": "officer", "version": version_in(form)},
    )
    assert done.status_code == 302, done.text
    assert state_of(db, case["id"]) == "initial_assessment"
    client.post("/logout")
    login(client, "officer")
    form = client.get(f"/cases/{case['id']}/actions/assess")
    # Every field of the event, labelled from the catalogue; the choices named.
    for name in ("verified", "risk_level", "findings"):
        assert f'name="{name}"' in form.text
    assert '<option value="serious">tổn hại nghiêm trọng</option>' in form.text
    done = client.post(
        f"/cases/{case['id']}/actions/assess",
        data={
            "verified": "y",
            "risk_level": "medium",
            "findings": "đã gặp trẻ",
            "version": version_in(form),
        },
    )
    assert done.status_code == 302
    assert state_of(db, case["id"]) == "specific_assessment"


def test_bad_input_shows_the_form_again_with_messages_and_writes_nothing(
    client, db, people
) -> None:
    case = recent_case(db, people)
    login(client, "chair")
    form = client.get(f"/cases/{case['id']}/actions/accept")
    client.post(
        f"/cases/{case['id']}/actions/accept",
        data={"assignee": "officer", "version": version_in(form)},
    )
    client.post("/logout")
    login(client, "officer")
    form = client.get(f"/cases/{case['id']}/actions/assess")
    before = (count(db, CaseTransition), changes(db))
    again = client.post(
        f"/cases/{case['id']}/actions/assess",
        data={"verified": "y", "risk_level": "medium", "findings": "", "version": version_in(form)},
    )
    assert again.status_code == 422
    assert 'id="findings-errors"' in again.text and "bắt buộc phải nhập" in again.text
    assert 'aria-invalid="true"' in again.text
    assert (count(db, CaseTransition), changes(db)) == before
    assert state_of(db, case["id"]) == "initial_assessment"


def plan_case(db, people):
    from tests.helpers import drive

    case = recent_case(db, people)
    drive(db, people, case["id"], ["accept", "assess", "complete_assessment"],
          datetime.now().astimezone(), timedelta(seconds=1))  # fmt: skip
    return case


def test_a_plan_with_two_agency_measures(client, db, people) -> None:
    case = plan_case(db, people)
    login(client, "officer")
    url = f"/cases/{case['id']}/actions/submit_plan"
    form = client.get(url)
    assert 'name="measures-0-agency_kind"' in form.text
    assert 'name="measures-1-agency_kind"' not in form.text
    due = (date.today() + timedelta(days=30)).isoformat()
    row0 = {
        "measures-0-agency_kind": "police",
        "measures-0-action": "điều tra",
        "measures-0-due_date": due,
    }
    # "Add a row" draws one more row and keeps what was typed; nothing is sent.
    more = client.post(url, data={**row0, "add_row": "measures", "version": version_in(form)})
    assert more.status_code == 200 and 'name="measures-1-agency_kind"' in more.text
    assert "điều tra" in more.text
    row1 = {
        "measures-1-agency_kind": "health",
        "measures-1-action": "khám",
        "measures-1-due_date": due,
    }
    done = client.post(url, data={**row0, **row1, "version": version_in(more)})
    assert done.status_code == 302, done.text
    assert state_of(db, case["id"]) == "plan_approval"
    # A due date beyond the horizon is named next to its row's field.
    client.post("/logout")
    login(client, "chair")
    client.post(f"/cases/{case['id']}/actions/return_plan",
                data={"reason": "thiếu", "version": version_in(client.get(f"/cases/{case['id']}/actions/return_plan"))})  # fmt: skip
    client.post("/logout")
    login(client, "officer")
    form = client.get(url)
    bad = client.post(
        url, data={**row0, "measures-0-due_date": "2099-01-01", "version": version_in(form)}
    )
    assert bad.status_code == 422 and 'id="measures-0-due_date-errors"' in bad.text


def test_a_stale_form_keeps_what_was_typed_and_says_who_changed_the_case(
    client, db, people
) -> None:
    case = plan_case(db, people)
    login(client, "officer")
    url = f"/cases/{case['id']}/actions/submit_plan"
    stale = version_in(client.get(url))
    from tests.helpers import step

    due = (date.today() + timedelta(days=30)).isoformat()
    # Meanwhile the chair reassigns the case (the version moves on).
    from casework.services.cases import assign

    assign(db, people["chair"], case["id"], "officer", int(stale))
    tasks = count(db, PlanTask)
    answer = client.post(url, data={"measures-0-agency_kind": "police", "measures-0-action": "điều tra riêng",
                                    "measures-0-due_date": due, "version": stale})  # fmt: skip
    assert answer.status_code == 409
    assert "điều tra riêng" in answer.text  # kept
    assert count(db, PlanTask) == tasks and state_of(db, case["id"]) == "plan_drafting"
    assert step  # imported for symmetry with the other tests


def test_actions_out_of_scope_or_not_available_are_not_found(client, db, people) -> None:
    case = recent_case(db, people)
    login(client, "officer.2")
    assert client.get(f"/cases/{case['id']}/actions/accept").status_code == 404
    client.post("/logout")
    login(client, "chair")
    assert client.get(f"/cases/{case['id']}/actions/close").status_code == 404  # not now
    assert client.get(f"/cases/{case['id']}/actions/nonsense").status_code == 404
    client.post("/logout")
    assert client.get(f"/cases/{case['id']}/actions/accept").status_code == 302  # sign in


def test_every_event_form_draws_every_field(app, db, people) -> None:
    """Adding a field to an event adds it to its form: every event's form holds an input
    for every field the event defines (records and lists included)."""
    from casework.services.forms import Kind
    from web.forms import event_form
    from workflows.engine import get_workflow

    def names(fields, prefix=""):
        for spec in fields:
            kind = spec.type
            if kind.kind == Kind.RECORD:
                yield from names(kind.fields, f"{prefix}{spec.name}-")
            elif kind.kind == Kind.LIST and kind.item.kind == Kind.RECORD:
                yield from names(kind.item.fields, f"{prefix}{spec.name}-0-")
            else:
                yield f"{prefix}{spec.name}"

    with app.test_request_context():
        for event in get_workflow("case").events.values():
            form = event_form(event.fields, None, {})
            html = "".join(str(field) for field in form)
            for name in names(event.fields):
                assert f'name="{name}"' in html, (event.name, name)
    assert report_payload  # the report's form comes with the intake page


def test_the_accept_form_offers_the_communes_officers_by_name(client, db, people) -> None:
    case = recent_case(db, people)
    login(client, "chair")
    form = client.get(f"/cases/{case['id']}/actions/accept")
    select = form.text.split("<select", 1)[1].split("</select>")[0]
    assert 'id="assignee"' in select
    assert '<option value="officer">' in select  # the commune's officer
    assert "officer.2" not in select and 'value="chair"' not in select  # elsewhere; no officer


def test_a_transfer_offers_the_other_communes_of_the_province(client, db, people) -> None:
    from tests.conftest import HOME, NEIGHBOUR

    view = case_in(db, people, "initial_assessment")
    login(client, "chair")
    form = client.get(f"/cases/{view['id']}/actions/transfer_out")
    assert form.status_code == 200, form.text
    select = form.text.split('id="unit_code"', 1)[1].split("</select>")[0]
    assert f'value="{NEIGHBOUR}"' in select and f'value="{HOME}"' not in select


def test_messages_next_to_fields_speak_the_readers_language(client, db, people) -> None:
    case = recent_case(db, people)
    login(client, "chair")
    form = client.get(f"/cases/{case['id']}/actions/accept")
    client.post(
        f"/cases/{case['id']}/actions/accept",
        data={"assignee": "officer", "version": version_in(form)},
    )
    client.post("/logout")
    login(client, "officer")
    page = client.get(f"/cases/{case['id']}/actions/assess")
    data = {
        "verified": "y",
        "risk_level": "medium",
        "findings": "x" * 5001,
        "version": version_in(page),
    }
    vietnamese = client.post(f"/cases/{case['id']}/actions/assess", data=data)
    assert "tối đa 5000 ký tự" in vietnamese.text.split('id="findings-errors"')[1][:200]
    english = client.post(f"/cases/{case['id']}/actions/assess?lang=en", data=data)
    assert "must be at most 5000 characters" in english.text.split('id="findings-errors"')[1][:200]
