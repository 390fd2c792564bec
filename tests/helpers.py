"""Helpers that drive cases through the services, as the users of each role would."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from casework.db import Database
from casework.demo import PATHS
from casework.services.cases import fire_event
from casework.services.intake import record_report
from casework.services.queries import get_case
from tests.conftest import People, at, report_payload

#: Who fires each event in the tests, and with what data.
STEPS: dict[str, tuple[str, dict[str, Any]]] = {
    "accept": ("chair", {"assignee": "officer"}),
    "assess": ("officer", {"verified": True, "risk_level": "medium", "findings": "đã xác minh"}),
    "assess_serious": (
        "officer",
        {"verified": True, "risk_level": "serious", "findings": "thương tích nặng"},
    ),
    "decide_emergency": ("chair", {"measures": "cách ly tạm thời", "separation": False}),
    "complete_assessment": ("officer", {"needs": "tâm lý", "meeting_minutes": "biên bản"}),
    "submit_plan": (
        "officer",
        {
            "measures": [
                {"agency_kind": "police", "action": "điều tra", "due_date": "2027-12-31"},
                {"agency_kind": "health", "action": "khám", "due_date": "2027-12-31"},
            ]
        },
    ),
    "approve_plan": ("chair", {}),
    "return_plan": ("chair", {"reason": "thiếu biện pháp"}),
    "start_review": ("officer", {}),
    "close": ("chair", {"review": {"harm": "low", "abuser_access": "low", "environment": "low"}}),
    "replan": ("officer", {"reason": "vẫn còn nguy cơ"}),
    "mark_unfounded": ("officer", {"reason": "không xác minh được"}),
    "reopen": ("officer", {"reason": "có thông tin mới"}),
    "extend_separation": ("chair", {"separation_until": "2027-02-20", "reason": "chưa an toàn"}),
    "end_separation": ("chair", {"placement": "family"}),
}

#: The events that bring a new (auto-transferred) case to each state: the demo's paths.
TO_STATE = {state: path for state, path in PATHS.items() if state != "received"}

RECEIVED = "2027-02-03T09:00:00+07:00"


def open_case(
    db: Database, people: People, now: datetime | None = None, actor: str = "intake", **payload: Any
) -> dict[str, Any]:
    body = report_payload(**payload)
    now = now or at(body["received_at"][:19]) + timedelta(minutes=10)
    result = record_report(db, people[actor], body, now=now)
    assert result.case is not None
    return result.case


def step(
    db: Database,
    people: People,
    case_id: int,
    name: str,
    now: datetime,
    actor: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    role_user, default_data = STEPS[name]
    event = "assess" if name == "assess_serious" else name
    version = _version(db, case_id)
    return fire_event(
        db,
        people[actor or role_user],
        case_id,
        event,
        version,
        default_data if data is None else data,
        now=now,
    )


def _version(db: Database, case_id: int) -> int:
    from casework.models import Case

    with db.uow(readonly=True) as uow:
        case = uow.session.get(Case, case_id)
        assert case is not None
        return case.version


def drive(
    db: Database,
    people: People,
    case_id: int,
    steps: list[str],
    now: datetime,
    spacing: timedelta = timedelta(minutes=30),
) -> dict[str, Any]:
    view: dict[str, Any] = {}
    for name in steps:
        now += spacing
        view = step(db, people, case_id, name, now)
    return view


def case_in(db: Database, people: People, state: str, **payload: Any) -> dict[str, Any]:
    case = open_case(db, people, **payload)
    now = at(RECEIVED[:19]) + timedelta(minutes=10)
    if TO_STATE[state]:
        return drive(db, people, case["id"], TO_STATE[state], now)
    return get_case(db, people["officer"], case["id"], now=now)


def deadline(view: dict[str, Any], rule: str, cycle: int = 1) -> dict[str, Any]:
    matches = [d for d in view["deadlines"] if d["rule"] == rule and d["cycle"] == cycle]
    assert len(matches) == 1, (rule, view["deadlines"])
    return matches[0]
