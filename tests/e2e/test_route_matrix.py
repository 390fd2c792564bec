"""Every route × every role: who gets what. A new route fails this test until it is here."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.helpers import case_in

ROLES = ("anonymous", "intake", "officer", "officer.2", "chair", "province", "police", "admin")


def row(default: int, **overrides: int) -> dict[str, int]:
    table = dict.fromkeys(ROLES, default)
    table.update({role.replace("_", "."): status for role, status in overrides.items()})
    return table


SIGNED_IN = row(200, anonymous=302)
#: endpoint -> (path, expected GET status per role). POST-only routes answer GET with 405;
#: what their POSTs do per role is in their own tests (test_actions, test_agency_portal,
#: test_api, test_scope, test_sessions).
MATRIX: dict[str, tuple[str, dict[str, int]]] = {
    "cases.index": ("/", row(200, anonymous=302, police=302, admin=302)),
    "cases.detail": ("/cases/{case}", row(200, anonymous=302, officer_2=404, admin=404)),
    "cases.print_view": (
        "/cases/{case}/print",
        row(200, anonymous=302, officer_2=404, admin=404),
    ),
    # Chairs and the province name the officer; others do not see the page.
    "cases.assign": ("/cases/{case}/assign", row(404, anonymous=302, chair=200, province=200)),
    "cases.add_note": ("/cases/{case}/notes", row(405)),
    "cases.reassign": ("/cases/reassign", row(405)),
    "cases.upload": ("/cases/{case}/attachments", row(405)),
    "cases.download": ("/attachments/1", row(404, anonymous=302)),  # none stored yet
    "actions.act": (
        "/cases/{case}/actions/start_review",  # the officer's next step on this case
        row(404, anonymous=302, officer=200),
    ),
    "tasks.index": ("/tasks", row(404, anonymous=302, police=200)),
    "dashboard.index": ("/dashboard", row(404, anonymous=302, chair=200, province=200)),
    "dashboard.csv_table": ("/dashboard.csv", row(404, anonymous=302, chair=200, province=200)),
    "dashboard.xlsx_table": ("/dashboard.xlsx", row(404, anonymous=302, chair=200, province=200)),
    "dashboard.chart": (
        "/dashboard/charts/new_cases.svg",
        row(404, anonymous=302, chair=200, province=200),
    ),
    "cases.work": ("/work", row(404, anonymous=302, officer=200, officer_2=200, chair=200)),
    "tasks.task": ("/tasks/{task}", row(404, anonymous=302, police=200)),
    "inbox.index": ("/inbox", SIGNED_IN),
    "inbox.read": ("/inbox/1/read", row(405)),
    "inbox.read_all": ("/inbox/read-all", row(405)),
    "auth.password": ("/password", SIGNED_IN),
    "auth.login": ("/login", row(302, anonymous=200)),  # signed in: on to the work
    "auth.logout": ("/logout", row(405)),
    # Without a right password just before, the second step sends back to sign-in.
    "auth.second_factor": ("/login/code", row(302)),
    "auth.two_factor": ("/account/two-factor", SIGNED_IN),
    "auth.renew_recovery_codes": ("/account/two-factor/recovery-codes", row(405)),
    "auth.disable_two_factor": ("/account/two-factor/disable", row(405)),
    "auth.tokens": ("/account/tokens", SIGNED_IN),
    "auth.revoke": ("/account/tokens/1/revoke", row(405)),
    "auth.set_language": ("/lang/en", row(302)),
    "admin.index": ("/admin", row(403, anonymous=302, admin=200)),
    "admin.failures": ("/admin/mail-failures", row(403, anonymous=302, admin=200)),
    "admin.failure_action": ("/admin/mail-failures/1/retry", row(405)),
    "admin.units_index": ("/admin/units", row(403, anonymous=302, admin=200)),
    "admin.unit_new": ("/admin/units/new", row(403, anonymous=302, admin=200)),
    "admin.agencies": ("/admin/units/20194/agencies", row(403, anonymous=302, admin=200)),
    # Agency 1 is the police of Hải Châu (made with the "police" user); no focal point yet.
    "admin.agency_edit": ("/admin/agencies/1", row(403, anonymous=302, admin=200)),
    "admin.agency_delete": ("/admin/agencies/1/delete", row(405)),
    "admin.focal_point_new": (
        "/admin/agencies/1/focal-points/new",
        row(403, anonymous=302, admin=200),
    ),
    "admin.focal_point_edit": ("/admin/focal-points/1", row(403, anonymous=302, admin=404)),
    "admin.focal_point_delete": ("/admin/focal-points/1/delete", row(405)),
    "admin.audit_index": ("/admin/audit", row(403, anonymous=302, admin=200)),
    "admin.audit_verify": ("/admin/audit/chains/48/verify", row(405)),
    "admin.users_index": ("/admin/users", row(403, anonymous=302, admin=200)),
    "admin.users_new": ("/admin/users/new", row(403, anonymous=302, admin=200)),
    "admin.users_units": ("/admin/users/units?unit-q=hai", row(403, anonymous=302, admin=200)),
    "admin.users_detail": ("/admin/users/officer", row(403, anonymous=302, admin=200)),
    "admin.users_disable": ("/admin/users/officer/disable", row(405)),
    "admin.users_enable": ("/admin/users/officer/enable", row(405)),
    "admin.users_unlock": ("/admin/users/officer/unlock", row(405)),
    "admin.users_reset_password": ("/admin/users/officer/reset-password", row(405)),
    "admin.users_reset_two_factor": ("/admin/users/officer/reset-two-factor", row(405)),
    "admin.users_token_new": ("/admin/users/officer/tokens", row(405)),
    "admin.users_token_revoke": ("/admin/users/officer/tokens/1/revoke", row(405)),
    # Calendars and workflow settings (a province administrator: tests/e2e/test_admin_settings).
    "admin.provinces": ("/admin/provinces", row(403, anonymous=302, admin=200)),
    "admin.province_calendar": (
        "/admin/provinces/48/calendar",
        row(403, anonymous=302, admin=200),
    ),
    "admin.remove_calendar_day": ("/admin/provinces/48/calendar/2027-01-04/remove", row(405)),
    "admin.province_workflow": (
        "/admin/provinces/48/workflow",
        row(403, anonymous=302, admin=200),
    ),
    "admin.workflow_rule": (
        "/admin/provinces/48/workflow/case/initial_assessment",
        row(403, anonymous=302, admin=200),
    ),
    "admin.withdraw_rule": (
        "/admin/provinces/48/workflow/case/initial_assessment/withdraw",
        row(405),
    ),
    "admin.workflow_diagram": ("/admin/workflows/case/diagram", row(403, anonymous=302, admin=200)),
    "intake.new": ("/intake", row(200, anonymous=302, police=404, admin=404)),
    "intake.communes": ("/intake/communes?q-q=hai", row(200, anonymous=302, police=404, admin=404)),
    # The report that opened the case, recorded by "intake": its outcome is its author's.
    "intake.outcome": ("/intake/reports/1", row(404, anonymous=302, intake=200)),
    "intake.autosave": ("/intake/draft", row(405)),
    "intake.discard": ("/intake/draft/discard", row(405)),
    "intake.suggestions": ("/intake/suggestions", row(405)),
    "intake.nuisance": ("/intake/nuisance", row(405)),
    "healthz": ("/healthz", row(200)),
    # The API takes bearer tokens, not the pages' session: signed in or not, 401.
    "api.list_cases": ("/api/v1/cases", row(401)),
    "api.get_case": ("/api/v1/cases/{case}", row(401)),
    "api.notifications": ("/api/v1/notifications", row(401)),
    "api.tasks": ("/api/v1/tasks", row(401)),
    "api.create_report": ("/api/v1/reports", row(405)),
    "api.fire_event": ("/api/v1/cases/{case}/events", row(405)),
    "api.assign": ("/api/v1/cases/{case}/assign", row(405)),
    "api.match_decision": ("/api/v1/matches/1", row(405)),
    "api.notification_read": ("/api/v1/notifications/1/read", row(405)),
    "api.task_answer": ("/api/v1/tasks/{task}", row(405)),
}


def test_every_route_is_in_the_matrix(app) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - {
        "static",
        "bootstrap.static",
    }
    assert endpoints == set(MATRIX)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_it_may(app, db, people, role) -> None:
    view = case_in(db, people, "implementing")
    task = next(t["id"] for t in view["tasks"] if t["agency_kind"] == "police")
    client = app.test_client()
    if role != "anonymous":
        signed_in = client.post("/login", data={"username": role, "password": PASSWORD})
        assert signed_in.status_code == 302, role
    answers = {}
    for endpoint, (path, expected) in MATRIX.items():
        url = path.format(case=view["id"], task=task)
        answers[endpoint] = (client.get(url).status_code, expected[role])
    wrong = {endpoint: got for endpoint, got in answers.items() if got[0] != got[1]}
    assert wrong == {}, f"{role}: (got, expected) {wrong}"


#: Pages open to a user who still owes a two-factor enrolment.
OPEN_BEFORE_ENROLMENT = {"healthz", "auth.two_factor", "auth.set_language", "auth.login"}


@pytest.mark.parametrize("role", ["province", "admin"])
def test_who_must_use_two_factors_reaches_only_enrolment_before_it(db, people, role) -> None:
    from config import TestConfig
    from web import create_app

    class TwoFactorRequired(TestConfig):
        TWO_FACTOR_REQUIRED = True

    view = case_in(db, people, "implementing")
    task = next(t["id"] for t in view["tasks"] if t["agency_kind"] == "police")
    client = create_app(TwoFactorRequired, db=db).test_client()
    assert client.post("/login", data={"username": role, "password": PASSWORD}).status_code == 302
    wrong = {}
    for endpoint, (path, expected) in MATRIX.items():
        if (
            endpoint in OPEN_BEFORE_ENROLMENT
            or endpoint.startswith("api.")
            or expected[role] == 405
        ):
            continue
        answer = client.get(path.format(case=view["id"], task=task))
        if (answer.status_code, answer.location) != (302, "/account/two-factor"):
            wrong[endpoint] = answer.status_code
    assert wrong == {}
    assert client.get("/account/two-factor").status_code == 200


def test_an_administrator_lands_on_the_administration_pages(client, people) -> None:
    client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert client.get("/").location.endswith("/admin")
    page = client.get("/admin")
    assert page.status_code == 200
    assert 'href="/admin/mail-failures"' in page.text
