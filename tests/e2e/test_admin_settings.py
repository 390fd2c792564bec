"""The administrators' pages for a province's calendar and workflow settings, and the
workflow diagram: who may open them, what they write (and audit), and what they refuse."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from casework.models import AuditEvent, CalendarDay, RuleVersion
from casework.services.settings import today
from tests.conftest import PASSWORD

RULE = "/admin/provinces/48/workflow/case/initial_assessment"
OTHER_ROLES = ("intake", "officer", "chair", "province", "police")


def login(client, username: str) -> None:
    assert (
        client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    )


def counts(db) -> tuple[int, int, int]:
    with db.uow(readonly=True) as uow:
        return (
            uow.session.scalar(sa.select(sa.func.count(CalendarDay.id))) or 0,
            uow.session.scalar(sa.select(sa.func.count(RuleVersion.id))) or 0,
            uow.session.scalar(
                sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action.like("settings.%"))
            )
            or 0,
        )


def audit_events(db, action: str) -> list[AuditEvent]:
    with db.uow(readonly=True) as uow:
        return list(uow.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def province_admin(people):
    return people.make("admin.48", "admin", "48")


def new_version(client, version: int = 0, **changes):
    data = {
        "duration": "8",
        "duration_unit": "hours",
        "effective_on": today().isoformat(),
        "reason": "QĐ 704/QĐ-UBND: xác minh trong 8 giờ",
        "legal_source": "QĐ 704/QĐ-UBND",
        "version": str(version),
    }
    data.update(changes)
    return client.post(RULE, data=data)


PAGES = (
    "/admin/provinces",
    "/admin/provinces/48/calendar",
    "/admin/provinces/48/workflow",
    RULE,
    "/admin/workflows/case/diagram",
)


@pytest.mark.parametrize("path", PAGES)
def test_the_national_administrator_opens_every_page(client, people, path) -> None:
    login(client, "admin")
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_is_sent_to_sign_in(client, people, path) -> None:
    answer = client.get(path)
    assert answer.status_code == 302 and "/login" in answer.location


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_other_roles_are_refused_every_page_and_action(client, db, people, role) -> None:
    login(client, role)
    for path in PAGES:
        assert client.get(path).status_code == 403, path
    before = counts(db)
    assert (
        client.post(
            "/admin/provinces/48/calendar", data={"day": "2027-01-04", "day_kind": "off"}
        ).status_code
        == 403
    )
    assert client.post("/admin/provinces/48/calendar/2027-01-04/remove").status_code == 403
    assert new_version(client).status_code == 403
    assert client.post(RULE + "/withdraw", data={"withdraw_reason": "x"}).status_code == 403
    assert counts(db) == before


def test_a_province_administrator_runs_its_own_province_only(
    client, db, people, province_admin
) -> None:
    login(client, "admin.48")
    # Straight to its province.
    answer = client.get("/admin/provinces")
    assert answer.status_code == 302 and answer.location.endswith("/admin/provinces/48/workflow")
    assert client.get("/admin/provinces/48/calendar").status_code == 200
    assert client.get(RULE).status_code == 200
    before = counts(db)
    for path in (
        "/admin/provinces/01/calendar",
        "/admin/provinces/01/workflow",
        "/admin/provinces/01/workflow/case/initial_assessment",
    ):
        assert client.get(path).status_code == 403, path
    assert (
        client.post(
            "/admin/provinces/01/calendar", data={"day": "2027-01-04", "day_kind": "off"}
        ).status_code
        == 403
    )
    assert (
        client.post("/admin/provinces/01/workflow/case/initial_assessment", data={}).status_code
        == 403
    )
    assert counts(db) == before
    assert new_version(client).status_code == 302
    assert counts(db) == (before[0], before[1] + 1, before[2] + 1)


def test_unknown_provinces_rules_and_workflows_are_404(client, people) -> None:
    login(client, "admin")
    for path in (
        "/admin/provinces/99/calendar",
        "/admin/provinces/99/workflow",
        "/admin/provinces/48/workflow/case/no_such_rule",
        "/admin/provinces/48/workflow/nope/initial_assessment",
        "/admin/workflows/nope/diagram",
        "/admin/provinces/48/calendar?year=abcd",
    ):
        assert client.get(path).status_code == 404, path


def test_adding_and_removing_a_day_off(client, db, people) -> None:
    login(client, "admin")
    answer = client.post(
        "/admin/provinces/48/calendar",
        data={"day": "2027-04-30", "day_kind": "off", "note": "Nghỉ bù"},
    )
    assert answer.status_code == 302 and answer.location.endswith("year=2027")
    page = client.get("/admin/provinces/48/calendar?year=2027&lang=en")
    assert "30/04/2027" in page.text and "Nghỉ bù" in page.text and "extra day off" in page.text
    assert "Reunification Day" in page.text or "Victory Day" in page.text  # national, read-only
    [added] = audit_events(db, "settings.calendar_day_added")
    assert added.actor == "admin" and added.chain == "48" and added.summary["day"] == "2027-04-30"
    answer = client.post("/admin/provinces/48/calendar/2027-04-30/remove")
    assert answer.status_code == 302
    assert counts(db)[0] == 0
    assert len(audit_events(db, "settings.calendar_day_removed")) == 1
    assert client.post("/admin/provinces/48/calendar/2027-04-30/remove").status_code == 404


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"day": "", "day_kind": "off"}, "day"),
        ({"day": "2027-02-30", "day_kind": "off"}, "day"),
        ({"day": "2027-01-04", "day_kind": "holiday"}, "day_kind"),
        ({"day": "2027-01-04", "day_kind": "work"}, "day"),  # a Monday is worked already
    ],
)
def test_a_bad_day_shows_the_form_again_and_writes_nothing(client, db, people, data, field) -> None:
    login(client, "admin")
    before = counts(db)
    answer = client.post("/admin/provinces/48/calendar?lang=en", data=data)
    assert answer.status_code == 422
    message = re.search(rf'id="{field}-errors"><li>([^<]+)', answer.text)
    assert message is not None, answer.text[-3000:]
    assert counts(db) == before


def test_a_day_given_twice_is_refused(client, db, people) -> None:
    login(client, "admin")
    client.post("/admin/provinces/48/calendar", data={"day": "2027-05-03", "day_kind": "off"})
    before = counts(db)
    answer = client.post(
        "/admin/provinces/48/calendar", data={"day": "2027-05-03", "day_kind": "off"}
    )
    assert answer.status_code == 422 and 'id="day-errors"' in answer.text
    assert counts(db) == before


def test_a_new_version_is_saved_audited_and_shown_with_its_difference(client, db, people) -> None:
    login(client, "admin")
    answer = new_version(client)
    assert answer.status_code == 302
    [event] = audit_events(db, "settings.rule_version")
    assert (event.actor, event.chain, event.summary["version"]) == ("admin", "48", 1)
    assert event.summary["reason"].startswith("QĐ 704")
    page = client.get(RULE + "?lang=en").text
    assert "Province version 1" in page
    assert "12 hours" in page and "8 hours" in page  # the national rule beside the province's
    assert "QĐ 704/QĐ-UBND: xác minh trong 8 giờ" in page  # the reason, in the history
    overview = client.get("/admin/provinces/48/workflow?lang=en").text
    assert "Province version 1" in overview and "<del>12 hours</del>" in overview


def test_a_ladder_can_be_given_row_by_row(client, db, people) -> None:
    login(client, "admin")
    more = client.post(RULE, data={"add_row": "ladder", "ladder-0-rung": "reminded"})
    assert more.status_code == 200 and 'name="ladder-1-rung"' in more.text
    assert counts(db)[1] == 0
    answer = client.post(
        RULE,
        data={
            "ladder-0-rung": "reminded",
            "ladder-0-at_percent": "50",
            "ladder-0-notify": ["assignee"],
            "ladder-1-rung": "escalated",
            "ladder-1-offset": "6",
            "ladder-1-offset_unit": "hours",
            "ladder-1-notify": ["province", "chair"],
            "effective_on": today().isoformat(),
            "reason": "Nhắc sớm hơn",
            "version": "0",
        },
    )
    assert answer.status_code == 302, answer.text[-2000:]
    with db.uow(readonly=True) as uow:
        row = uow.session.scalars(sa.select(RuleVersion)).one()
    assert [r["name"] for r in row.ladder] == ["reminded", "escalated"]
    assert row.ladder[0]["at_fraction"] == 0.5 and row.ladder[1]["offset_unit"] == "hours"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"effective_on": "2020-01-01"}, "effective_on"),
        ({"effective_on": "not a date"}, "effective_on"),
        ({"duration": "0"}, "duration"),
        ({"duration": "abc"}, "duration"),
        ({"duration_unit": "weeks"}, "duration_unit"),
        ({"assignee_role": "admin"}, "assignee_role"),
        ({"ladder-0-rung": "reminded", "ladder-0-notify": ["assignee"]}, "ladder-0-at_percent"),
    ],
)
def test_a_bad_version_shows_the_form_again_and_writes_nothing(
    client, db, people, changes, field
) -> None:
    login(client, "admin")
    before = counts(db)
    answer = new_version(client, **changes)
    assert answer.status_code == 422
    assert f'id="{field}-errors"' in answer.text, answer.text[-3000:]
    assert counts(db) == before


def test_a_version_based_on_a_stale_read_is_refused(client, db, people) -> None:
    login(client, "admin")
    assert new_version(client, version=0).status_code == 302
    before = counts(db)
    client.get("/lang/en")
    answer = new_version(client, version=0, duration="6")  # drawn before version 1
    assert answer.status_code == 409
    assert "now version 1" in answer.text
    assert 'value="6"' in answer.text  # what was typed is kept
    assert counts(db) == before
    assert 'name="version" type="hidden" value="1"' in answer.text  # sending again is on 1
    assert new_version(client, version=1, duration="6").status_code == 302


def test_withdrawing_restores_the_national_rule(client, db, people) -> None:
    login(client, "admin")
    new_version(client)
    answer = client.post(
        RULE + "/withdraw",
        data={"withdraw_on": today().isoformat(), "withdraw_reason": "Bãi bỏ", "version": "1"},
    )
    assert answer.status_code == 302
    [event] = audit_events(db, "settings.rule_withdrawn")
    assert event.summary["version"] == 2 and event.summary["reason"] == "Bãi bỏ"
    page = client.get(RULE + "?lang=en").text
    assert "Withdrawn: the national rule again" in page and "Province version" not in page


def test_a_bad_withdrawal_writes_nothing(client, db, people) -> None:
    login(client, "admin")
    new_version(client)
    before = counts(db)
    answer = client.post(
        RULE + "/withdraw",
        data={"withdraw_on": "2020-01-01", "withdraw_reason": "x", "version": "1"},
    )
    assert answer.status_code == 422 and 'id="withdraw_on-errors"' in answer.text
    answer = client.post(
        RULE + "/withdraw",
        data={"withdraw_on": today().isoformat(), "withdraw_reason": "", "version": "1"},
    )
    assert answer.status_code == 422 and 'id="withdraw_reason-errors"' in answer.text
    assert counts(db) == before


def test_the_diagram_is_drawn_in_the_page_language_with_a_table(client, people) -> None:
    login(client, "admin")
    page = client.get("/admin/workflows/case/diagram?lang=vi").text
    assert "<svg" in page and "Đánh giá ban đầu" in page or "Xác minh" in page
    assert "<table" in page and page.count("<tr>") >= 15
    english = client.get("/admin/workflows/case/diagram?lang=en").text
    assert "Approve the plan" in english or "approve" in english.lower()
    assert "style=" not in english and "<script>" not in english


def test_posts_without_csrf_are_refused(db, people) -> None:
    from config import TestConfig
    from web import create_app

    class WithCsrf(TestConfig):
        WTF_CSRF_ENABLED = True

    client = create_app(WithCsrf, db=db).test_client()
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    assert (
        client.post(
            "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token}
        ).status_code
        == 302
    )
    before = counts(db)
    assert (
        client.post(
            "/admin/provinces/48/calendar", data={"day": "2027-01-04", "day_kind": "off"}
        ).status_code
        == 400
    )
    assert client.post("/admin/provinces/48/calendar/2027-01-04/remove").status_code == 400
    assert (
        client.post(
            RULE, data={"duration": "8", "reason": "x", "effective_on": today().isoformat()}
        ).status_code
        == 400
    )
    assert client.post(RULE + "/withdraw", data={"withdraw_reason": "x"}).status_code == 400
    assert counts(db) == before


def test_a_duration_alone_is_counted_in_the_rules_own_unit(client, db, people) -> None:
    login(client, "admin")
    answer = client.post(
        "/admin/provinces/48/workflow/case/plan_submission",
        data={"duration": "4", "effective_on": today().isoformat(), "reason": "QĐ 704"},
    )
    assert answer.status_code == 302
    page = client.get("/admin/provinces/48/workflow?lang=en").text
    assert "<del>5 working days</del> → <ins>4 working days</ins>" in page
    # A clock that runs to a date set elsewhere says so instead of "0 days".
    assert "the date set in the plan" in page and "the date set in the decision" in page
