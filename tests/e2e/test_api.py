"""The JSON API over HTTP (Flask's test client), on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from casework.models import AuditEvent, Case, Child, Report
from tests.conftest import HOME, report_payload


def recent_payload(**overrides):
    received = (datetime.now().astimezone() - timedelta(hours=1)).replace(microsecond=0)
    return report_payload(**{"received_at": received.isoformat(), **overrides})


def rows(db, model) -> int:
    with db.uow(readonly=True) as uow:
        return uow.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_report_gets_initial_assessment_deadline_12_hours_after_receipt(api) -> None:
    payload = recent_payload()
    response = api.post("/reports", "intake", payload)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["state"] == "transferred" and body["version"] >= 1
    initial = next(d for d in body["deadlines"] if d["step"] == "initial_assessment")
    received = datetime.fromisoformat(payload["received_at"])
    assert datetime.fromisoformat(initial["due_at"]) - received == timedelta(hours=12)
    assert initial["status"] == "open"


def test_get_case_shows_state_history_deadlines_and_available_events(api) -> None:
    case_id = api.post("/reports", "intake", recent_payload()).json["case_id"]
    response = api.get(f"/cases/{case_id}", "chair")
    assert response.status_code == 200
    body = response.json
    assert body["state"] == "transferred" and body["unit_code"] == "20194"
    assert [h["event"] for h in body["history"]] == ["receive", "transfer"]
    assert body["available_events"] == ["accept", "transfer_out"]
    assert {d["step"] for d in body["deadlines"]} >= {"received", "initial_assessment"}


def test_fire_events_then_stale_version_conflicts(api) -> None:
    case_id = api.post("/reports", "intake", recent_payload()).json["case_id"]
    version = api.get(f"/cases/{case_id}", "officer").json["version"]
    ok = api.post(
        f"/cases/{case_id}/events", "officer", {"event": "accept", "version": version, "data": {}}
    )
    assert ok.status_code == 200 and ok.json["state"] == "initial_assessment"
    stale = api.post(
        f"/cases/{case_id}/events",
        "officer",
        {
            "event": "assess",
            "version": version,
            "data": {"verified": True, "risk_level": "low", "findings": "x"},
        },
    )
    assert stale.status_code == 409
    assert stale.json["current_version"] == ok.json["version"]


def test_event_not_allowed_now_is_422(api) -> None:
    case_id = api.post("/reports", "intake", recent_payload()).json["case_id"]
    version = api.get(f"/cases/{case_id}", "chair").json["version"]
    response = api.post(
        f"/cases/{case_id}/events", "chair", {"event": "approve_plan", "version": version}
    )
    assert response.status_code == 422
    assert response.json["error"] == "event_not_allowed"


def test_wrong_role_is_403_and_out_of_scope_is_404(api) -> None:
    case_id = api.post("/reports", "intake", recent_payload()).json["case_id"]
    version = api.get(f"/cases/{case_id}", "chair").json["version"]
    forbidden = api.post(
        f"/cases/{case_id}/events", "province", {"event": "accept", "version": version}
    )
    assert forbidden.status_code == 403
    for username in ("officer.2", "officer.hn", "province.hn", "police", "admin", "intake.111"):
        assert api.get(f"/cases/{case_id}", username).status_code == 404
        assert (
            api.post(
                f"/cases/{case_id}/events", username, {"event": "accept", "version": version}
            ).status_code
            == 404
        )
    assert api.get("/cases/999999", "chair").status_code == 404


def test_list_is_scoped(api) -> None:
    case_id = api.post("/reports", "intake", recent_payload()).json["case_id"]
    assert [c["id"] for c in api.get("/cases", "officer").json["cases"]] == [case_id]
    assert api.get("/cases", "officer.2").json["cases"] == []
    assert "full_name" not in str(api.get("/cases", "officer").json)


def test_missing_or_bad_token_is_401(client) -> None:
    assert client.get("/api/v1/cases/1").status_code == 401
    bad = client.get("/api/v1/cases/1", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json["error"] == "unauthorized"
    basic = client.get("/api/v1/cases/1", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401


BAD_REPORT_FIELDS = [
    ({"kind": "complaint"}, "kind"),
    ({"kind": None}, "kind"),
    ({"channel": 111}, "channel"),
    ({"received_at": "03/02/2027"}, "received_at"),
    ({"received_at": "2999-01-01T00:00:00Z"}, "received_at"),
    ({"reporter": "anonymous"}, "reporter"),
    ({"reporter": {"phone": "1" * 30}}, "reporter.phone"),
    ({"reporter": {"email": "x@y"}}, "reporter.email"),
    ({"child": None}, "child"),
    ({"child": {"full_name": "", "sex": "female", "age_years": 5}}, "child.full_name"),
    ({"child": {"full_name": "A", "sex": "girl", "age_years": 5}}, "child.sex"),
    (
        {"child": {"full_name": "A", "sex": "female", "birth_date": "2020-13-01"}},
        "child.birth_date",
    ),
    ({"child": {"full_name": "A", "sex": "female", "age_years": -1}}, "child.age_years"),
    ({"child": {"full_name": "A", "sex": "female", "age_years": "five"}}, "child.age_years"),
    (
        {"child": {"full_name": "A", "sex": "female", "age_years": 5, "unit_code": "1"}},
        "child.unit_code",
    ),
    ({"child": {"full_name": "A", "sex": "female", "age_years": 5, "address": 7}}, "child.address"),
    (
        {"child": {"full_name": "A", "sex": "female", "age_years": 5, "birth_date": "2020-01-01"}},
        "child.age_years",
    ),
    ({"incident_unit_code": None}, "incident_unit_code"),
    ({"incident_unit_code": "20308"}, "incident_unit_code"),
    ({"abuse_types": "violence"}, "abuse_types"),
    ({"abuse_types": ["violence", "gossip"]}, "abuse_types[1]"),
    ({"online": "yes"}, "online"),
    ({"environment": 3}, "environment"),
    ({"description": ""}, "description"),
    ({"risk_level": "low-ish"}, "risk_level"),
    ({"auto_transfer": 1}, "auto_transfer"),
    ({"extra": True}, "extra"),
]


@pytest.mark.parametrize(("change", "field"), BAD_REPORT_FIELDS)
def test_bad_report_field_is_422_naming_it_and_nothing_is_written(api, db, change, field) -> None:
    api.headers("intake")  # the token's own creation is audited: make it first
    audit_before = rows(db, AuditEvent)
    response = api.post("/reports", "intake", recent_payload(**change))
    assert response.status_code == 422, response.json
    assert field in response.json["fields"], response.json
    assert rows(db, Report) == rows(db, Case) == rows(db, Child) == 0
    assert rows(db, AuditEvent) == audit_before


@pytest.mark.parametrize("body", ["not json", "[1, 2]", "null"])
def test_report_body_must_be_a_json_object(api, body) -> None:
    response = api.client.post(
        "/api/v1/reports", data=body, content_type="application/json", headers=api.headers("intake")
    )
    assert response.status_code == 400
    assert "JSON" in response.json["message"]


def test_report_needs_json_content_type(api) -> None:
    response = api.client.post("/api/v1/reports", data="kind=advice", headers=api.headers("intake"))
    assert response.status_code == 400


BAD_EVENT_BODIES = [
    ({"version": 1}, 422, "event"),
    ({"event": 5, "version": 1}, 422, "event"),
    ({"event": "fly", "version": 1}, 422, "event"),
    ({"event": "accept"}, 422, "version"),
    ({"event": "accept", "version": "1"}, 422, "version"),
    ({"event": "accept", "version": True}, 422, "version"),
    ({"event": "accept", "version": 1, "data": [1]}, 422, "data"),
    ({"event": "accept", "version": 1, "data": {"assignee": 5}}, 422, "data.assignee"),
    ({"event": "accept", "version": 1, "data": {"boss": "x"}}, 422, "data.boss"),
    ({"event": "accept", "version": 1, "data": {"assignee": "nobody"}}, 422, "data.assignee"),
    ({"event": "accept", "version": 1, "comment": "hi"}, 422, "comment"),
]


@pytest.mark.parametrize(("body", "status", "field"), BAD_EVENT_BODIES)
def test_bad_event_body_names_the_field_and_changes_nothing(api, body, status, field) -> None:
    case_id = api.post("/reports", "intake", recent_payload()).json["case_id"]
    before = api.get(f"/cases/{case_id}", "chair").json
    if type(body.get("version")) is int:  # a valid version: use the real one
        body = {**body, "version": before["version"]}
    response = api.post(f"/cases/{case_id}/events", "chair", body)
    assert response.status_code == status, response.json
    assert field in response.json["fields"]
    after = api.get(f"/cases/{case_id}", "chair").json
    assert (after["state"], after["version"]) == (before["state"], before["version"])


def test_assign_through_the_api(api, people) -> None:
    case_id = api.post("/reports", "intake", recent_payload()).json["case_id"]
    version = api.get(f"/cases/{case_id}", "chair").json["version"]
    response = api.post(
        f"/cases/{case_id}/assign", "chair", {"assignee": "officer", "version": version}
    )
    assert response.status_code == 200 and response.json["assignee"] == "officer"
    refused = api.post(
        f"/cases/{case_id}/assign",
        "officer",
        {"assignee": "officer", "version": response.json["version"]},
    )
    assert refused.status_code == 403
    bad = api.post(f"/cases/{case_id}/assign", "chair", {"version": response.json["version"]})
    assert bad.status_code == 422 and "assignee" in bad.json["fields"]


def test_list_rejects_bad_paging(api) -> None:
    assert api.get("/cases?limit=abc", "officer").status_code == 422
    assert api.get("/cases?limit=0", "officer").status_code == 422


def test_unknown_api_route_is_json_404(api) -> None:
    response = api.get("/nothing-here", "officer")
    assert response.status_code == 404 and response.json["error"] == "not_found"


from tests.integration.test_scope import VISIBILITY  # noqa: E402


@pytest.mark.parametrize(("username", "visible"), VISIBILITY)
def test_api_scope_by_role(api, username, visible) -> None:
    case_id = api.post("/reports", "intake", recent_payload()).json["case_id"]
    listed = [c["id"] for c in api.get("/cases", username).json["cases"]]
    response = api.get(f"/cases/{case_id}", username)
    if visible:
        assert response.status_code == 200 and listed == [case_id]
    else:
        assert response.status_code == 404 and listed == []
        assert response.json["message"] == f"case {case_id} not found"


@pytest.mark.parametrize("where", ["postgresql", "sqlite"])
def test_an_unreachable_database_is_a_503_that_says_nothing_was_saved(where, tmp_path) -> None:
    """A database that is down or failing over is not a bug of ours: the client is told to
    try again (503, Retry-After), in JSON under /api and as a page elsewhere."""
    from casework.db import Database
    from config import TestConfig
    from tests.conftest import TEST_SETTINGS
    from tests.pg_cluster import free_port
    from web import create_app

    if where == "postgresql":
        url = f"postgresql+psycopg://casework@127.0.0.1:{free_port()}/nowhere?connect_timeout=2"
    else:
        url = f"sqlite:///{tmp_path}/casework.db"
        (tmp_path / "casework.db").mkdir()  # a directory where the database file should be
    dead = Database(url, TEST_SETTINGS)
    client = create_app(TestConfig, db=dead).test_client()
    answer = client.get("/api/v1/cases/1?lang=en", headers={"Authorization": "Bearer x"})
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "30"
    assert answer.get_json()["error"] == "service_unavailable"
    assert "Nothing was saved" in answer.get_json()["message"]
    page = client.post("/login", data={"username": "officer", "password": "x"})
    assert page.status_code == 503
    assert "Chưa có gì được lưu" in page.get_data(as_text=True)  # pages speak Vietnamese
    dead.dispose()


def test_a_report_elsewhere_answers_only_where_it_went(api, people) -> None:
    # A province 01 intake user reports a child whose case province 48 holds.
    people.make("intake.hn", "intake", "01")
    first = api.post("/reports", "intake", recent_payload()).json
    again = api.post("/reports", "intake.hn", recent_payload())
    assert again.status_code == 201
    assert set(again.json) == {"report_id", "kind", "passed_to"}
    assert again.json["passed_to"]["unit_code"] == HOME
    assert first["reference"] not in str(again.json)


def test_a_possible_match_is_decided_through_the_api(api, db) -> None:
    from casework.models import ReportMatch

    api.post("/reports", "intake", recent_payload())
    child = {**report_payload()["child"], "full_name": "Nguyen Thi Lan"}
    second = api.post("/reports", "intake", recent_payload(child=child)).json
    assert second["possible_matches"][0]["reasons"][0] == "name_folded"
    with db.uow(readonly=True) as uow:
        match_id = uow.session.scalar(
            sa.select(ReportMatch.id).where(ReportMatch.report_id == second["report_id"])
        )
    for user in ("officer", "officer.2", "chair"):
        api.headers(user)  # their tokens (an audited act of their own) before counting
    audit_rows = rows(db, AuditEvent)
    for body, field in (({}, "same_child"), ({"same_child": "yes"}, "same_child"),
                        ({"same_child": True, "x": 1}, "x")):  # fmt: skip
        bad = api.post(f"/matches/{match_id}", "officer", body)
        assert bad.status_code == 422 and field in bad.json["fields"]
    assert api.post(f"/matches/{match_id}", "officer.2", {"same_child": True}).status_code == 404
    assert api.post("/matches/999999", "officer", {"same_child": True}).status_code == 404
    assert rows(db, AuditEvent) == audit_rows
    done = api.post(f"/matches/{match_id}", "officer", {"same_child": False})
    assert done.status_code == 200 and done.json["status"] == "rejected"
    assert api.post(f"/matches/{match_id}", "chair", {"same_child": True}).status_code == 409
