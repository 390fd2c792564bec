"""Demo data: one province's users of each role and cases in every state.

Everything goes through the services, so the demo's cases have real history, deadlines and
audit events. The names are invented.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from casework.casestore import open_store
from casework.clock import utcnow
from casework.db import Database
from casework.errors import ValidationError
from casework.models import AdministrativeUnit, Case, User
from casework.services.cases import plan_event
from casework.services.intake import ABUSE_TYPES, CHANNELS, ENVIRONMENTS, record_report
from casework.services.units import find_unit, load_2025_units
from casework.services.users import create_user
from workflows.case import EVENTS

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
MIDDLE_F = ["Thị", "Ngọc", "Thu", "Bảo", "Khánh"]
MIDDLE_M = ["Văn", "Minh", "Đức", "Quốc", "Gia"]
GIVEN_F = ["Lan", "Hoa", "Mai", "Linh", "Trang", "Hương", "Vy", "An", "Ngân", "Thảo"]
GIVEN_M = ["Nam", "Hùng", "Long", "Phúc", "Khang", "Bảo", "Tuấn", "Huy", "Minh", "Quân"]

#: The path of events that brings a new case to each state.
PATHS: dict[str, list[str]] = {
    "received": [],
    "transferred": [],
    "initial_assessment": ["accept"],
    "emergency_protection": ["accept", "assess_serious"],
    "specific_assessment": ["accept", "assess"],
    "plan_drafting": ["accept", "assess", "complete_assessment"],
    "plan_approval": ["accept", "assess", "complete_assessment", "submit_plan"],
    "implementing": ["accept", "assess", "complete_assessment", "submit_plan", "approve_plan"],
    "reviewing": [
        "accept",
        "assess",
        "complete_assessment",
        "submit_plan",
        "approve_plan",
        "start_review",
    ],
    "closed": [
        "accept",
        "assess",
        "complete_assessment",
        "submit_plan",
        "approve_plan",
        "start_review",
        "close",
    ],
}


def _event_data(step: str, when: datetime, rng: random.Random) -> tuple[str, dict[str, Any]]:
    due = (when + timedelta(days=rng.randint(7, 45))).date().isoformat()
    if step == "assess_serious":
        return "assess", {
            "verified": True,
            "risk_level": "serious",
            "findings": "Trẻ bị thương tích nghiêm trọng, cần bảo vệ khẩn cấp.",
        }
    data: dict[str, dict[str, Any]] = {
        "accept": {},
        "assess": {
            "verified": True,
            "risk_level": rng.choice(["low", "medium", "high"]),
            "findings": "Đã xác minh thông tin với gia đình và nhà trường.",
        },
        "complete_assessment": {
            "needs": "Hỗ trợ tâm lý, theo dõi học tập.",
            "meeting_minutes": "Biên bản họp ngày " + when.date().isoformat(),
        },
        "submit_plan": {
            "measures": [
                {
                    "agency_kind": "health",
                    "action": "Khám sức khỏe và tư vấn tâm lý",
                    "due_date": due,
                },
                {
                    "agency_kind": "education",
                    "action": "Hỗ trợ học tập tại trường",
                    "due_date": due,
                },
                {
                    "agency_kind": "police",
                    "action": "Xác minh, xử lý người vi phạm",
                    "due_date": due,
                },
            ]
        },
        "decide_emergency": {"measures": "Đưa trẻ đến nơi an toàn, chăm sóc thay thế tạm thời"},
        "approve_plan": {},
        "start_review": {},
        "close": {"review": {"harm": "low", "abuser_access": "low", "environment": "low"}},
    }
    return step, data[step]


def _child_name(rng: random.Random, sex: str) -> str:
    middle, given = (MIDDLE_F, GIVEN_F) if sex == "female" else (MIDDLE_M, GIVEN_M)
    return f"{rng.choice(FAMILY)} {rng.choice(middle)} {rng.choice(given)}"


def ensure_user(
    db: Database,
    username: str,
    role: str,
    password: str,
    unit: str | None,
    agency: str | None = None,
) -> None:
    try:
        create_user(
            db,
            username,
            role,
            password,
            unit_code=unit,
            agency_kind=agency,
            full_name=username.replace(".", " ").title(),
        )
    except ValidationError as error:
        if "already taken" not in error.message:
            raise


def load_demo(
    db: Database,
    province_code: str,
    case_count: int,
    password: str,
    seed: int,
    echo: Callable[[str], None] = print,
    now: datetime | None = None,
) -> dict[str, Any]:
    rng = random.Random(seed)
    now = now or utcnow()
    with db.uow(readonly=True) as uow:
        loaded = uow.session.scalar(sa.select(sa.func.count(AdministrativeUnit.id)))
    if not loaded:
        echo("Loading administrative units ...")
        load_2025_units(db)
    with db.uow(readonly=True) as uow:
        province = find_unit(uow.session, province_code, level="province")
        if province is None:
            raise ValidationError({"--province": f"no province has code {province_code!r}"})
        communes = list(
            uow.session.scalars(
                sa.select(AdministrativeUnit.code)
                .where(AdministrativeUnit.parent_id == province.id)
                .order_by(AdministrativeUnit.code)
                .limit(2)
            )
        )
    home, other = communes[0], communes[1]
    users = [
        ("intake.111", "intake", None, None),
        ("intake.province", "intake", province_code, None),
        ("officer", "officer", home, None),
        ("chair", "chair", home, None),
        ("officer.2", "officer", other, None),
        ("chair.2", "chair", other, None),
        ("province", "province", province_code, None),
        ("police", "agency", home, "police"),
        ("health", "agency", home, "health"),
        ("education", "agency", home, "education"),
        ("admin", "admin", None, None),
        # A province administrator: manages this province's accounts only.
        ("admin.province", "admin", province_code, None),
    ]
    echo("Creating users ...")
    for username, role, unit, agency in users:
        ensure_user(db, username, role, password, unit, agency)
    with db.uow(readonly=True) as uow:
        existing = uow.session.scalar(
            sa.select(sa.func.count(Case.id)).where(Case.province_code == province_code)
        )
    if not existing:
        echo(f"Creating {case_count} cases through the workflow ...")
        _create_cases(db, rng, now, case_count, [home, other])
    from casework.deadlines import sweep

    fired = sweep(db, now)
    if fired:
        echo(f"Sweeping the deadlines as of now: {fired}")
    from casework import audit

    with db.uow() as uow:  # the trail so far under one seal (the scheduler seals from here on)
        audit.seal(uow.session, uow.settings.audit_key, utcnow(), only_if_changed=True)
        uow.commit()
    with db.uow(readonly=True) as uow:
        states = dict(
            uow.session.execute(
                sa.select(Case.state, sa.func.count(Case.id))
                .where(Case.province_code == province_code)
                .group_by(Case.state)
            ).all()
        )
    return {
        "states": states,
        "users": [(u[0], u[1]) for u in users],
        "two_factor": _enrol_two_factors(db, [u[0] for u in users]),
    }


def _enrol_two_factors(db: Database, usernames: list[str]) -> dict[str, str]:
    """Users who must sign in with two factors (administrators, province staff) are
    enrolled with a key the demo prints, so a newcomer can add it to an authenticator app
    (or compute the code with pyotp). Again on a second run: the same keys."""
    import pyotp

    from casework.services import twofactor

    keys: dict[str, str] = {}
    with db.uow(readonly=True) as uow:
        people = list(uow.session.scalars(sa.select(User).where(User.username.in_(usernames))))
    for user in people:
        if not twofactor.must_use(user):
            continue
        if not twofactor.is_enrolled(user):
            secret = twofactor.begin_enrolment(db, user.id)
            twofactor.confirm_enrolment(db, user.id, pyotp.TOTP(secret).now())
        with db.uow(readonly=True) as uow:
            keys[user.username] = str(uow.session.get(User, user.id).totp_secret)  # type: ignore[union-attr]
    return keys


def _create_cases(
    db: Database, rng: random.Random, now: datetime, count: int, communes: list[str]
) -> None:
    targets = list(PATHS)
    with db.uow(readonly=True) as uow:
        actors = {u.username: u for u in uow.session.scalars(sa.select(User))}
    for index in range(count):
        target = targets[index % len(targets)]
        commune = communes[0] if index % 4 else communes[1]
        suffix = "" if commune == communes[0] else ".2"
        received = now - timedelta(days=rng.uniform(0.2, 60), minutes=rng.randint(0, 600))
        path = list(PATHS[target])
        if "assess" in path and rng.random() < 0.2:
            at = path.index("assess")
            path[at : at + 1] = ["assess_serious", "decide_emergency"]
        if target in ("initial_assessment", "received", "transferred"):
            received = now - timedelta(hours=rng.uniform(0.5, 20))
        sex = rng.choice(["female", "male"])
        payload = {
            "kind": "abuse_report",
            "channel": rng.choice(CHANNELS),
            "received_at": received.isoformat(),
            "reporter": {"relation": rng.choice(["neighbour", "teacher", "relative"])},
            "child": {
                "full_name": _child_name(rng, sex),
                "sex": sex,
                "age_years": rng.randint(2, 15),
                "unit_code": commune,
                "address": f"Tổ {rng.randint(1, 30)}",
            },
            "incident_unit_code": commune,
            "abuse_types": [rng.choice(ABUSE_TYPES)],
            "environment": rng.choice(ENVIRONMENTS),
            "description": "Báo cáo nghi ngờ trẻ bị xâm hại.",
            "auto_transfer": target != "received",
        }
        result = record_report(db, actors["intake.province"], payload, now=received)
        if result.case is None or result.linked:
            continue
        case_id = result.case["id"]
        when = received + timedelta(minutes=rng.randint(20, 90))
        span = (now - when) / (len(path) + 1)
        with open_store(db) as store, store.transaction():
            case = store.load(case_id)
            assert case is not None
            for step in path:
                event, data = _event_data(step, when, rng)
                if event == "accept":  # the chair names the commune's officer
                    data = {"assignee": "officer" + suffix}
                role = _acting_role(event)
                actor = actors[role + suffix] if role in ("officer", "chair") else actors[role]
                store.write(plan_event(store, case, actor, event, data, when))
                when += span * rng.uniform(0.3, 1.0)


def _acting_role(event: str) -> str:
    """Who fires `event` in the demo: the first role the workflow allows."""
    return EVENTS[event].by[0]
