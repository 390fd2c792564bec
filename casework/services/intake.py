"""Intake: record a report or an advice-only contact; open, link or reopen a case."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa

from casework import audit
from casework.casestore import (
    CaseChange,
    CaseRow,
    CaseStore,
    create_case,
    insert_child,
    insert_report,
    open_store,
)
from casework.clock import LOCAL_TZ, utcnow
from casework.db import Database
from casework.deadlines import on_state_entered, province_calendar, province_rules
from casework.errors import ValidationError
from casework.models import Case, Child, ReportKind, Role, User
from casework.services.cases import event_view, history_row, plan_event
from casework.services.units import CommuneRef, commune_ref
from workflows.case import RISK_LEVELS
from workflows.spec import (
    FieldError,
    FieldSpec,
    boolean,
    choice,
    clean_fields,
    integer,
    iso_date,
    iso_datetime,
    list_of,
    record,
    text,
)

CHANNELS = (
    "hotline_111",
    "provincial_hotline",
    "police",
    "health",
    "welfare",
    "commune",
    "school",
    "walk_in",
    "other",
)
ABUSE_TYPES = (
    "violence",
    "exploitation",
    "sexual_abuse",
    "trafficking",
    "abandonment",
    "neglect",
    "other",
)
ENVIRONMENTS = ("family", "school", "community", "online", "other")
SEXES = ("female", "male", "unknown")
#: A child is a person under 16 (Luật Trẻ em 2016, Art. 1).
CHILD_AGE_LIMIT = 16
#: Clock skew tolerated between an intake point's clock and ours.
FUTURE_TOLERANCE = timedelta(minutes=5)

REPORT_FIELDS = (
    FieldSpec("kind", choice(*(kind.value for kind in ReportKind))),
    FieldSpec("channel", choice(*CHANNELS)),
    FieldSpec("received_at", iso_datetime()),
    FieldSpec(
        "reporter",
        record(
            FieldSpec("name", text(200), required=False),
            FieldSpec("phone", text(20), required=False),
            FieldSpec("relation", text(100), required=False),
            FieldSpec("anonymous", boolean(), required=False),
        ),
        required=False,
    ),
    FieldSpec(
        "child",
        record(
            FieldSpec("full_name", text(200), required=False),
            FieldSpec("sex", choice(*SEXES), required=False),
            FieldSpec("birth_date", iso_date(), required=False),
            FieldSpec("age_years", integer(0, CHILD_AGE_LIMIT - 1), required=False),
            FieldSpec("unit_code", text(8), required=False),
            FieldSpec("address", text(300), required=False),
        ),
        required=False,
    ),
    FieldSpec("incident_unit_code", text(8), required=False),
    FieldSpec(
        "abuse_types",
        list_of(choice(*ABUSE_TYPES), max_items=len(ABUSE_TYPES), unique=True),
        required=False,
    ),
    FieldSpec("online", boolean(), required=False),
    FieldSpec("environment", choice(*ENVIRONMENTS), required=False),
    FieldSpec("description", text(10000), required=False),
    FieldSpec("risk_level", choice(*RISK_LEVELS), required=False),
    FieldSpec("auto_transfer", boolean(), required=False),
)


def name_key(full_name: str) -> str:
    """Accent-free, lower-case, single-spaced: 'Nguyễn Thị  Hoà' -> 'nguyen thi hoa'."""
    decomposed = unicodedata.normalize("NFD", full_name.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.lower().split())


def earliest_receipt(now: datetime, setting: str | None = None) -> datetime:
    """The earliest plausible receipt time: `setting` (default: CASEWORK_EARLIEST_RECEIPT)
    is a number of days before `now`, or a date (YYYY-MM-DD, Vietnam time)."""
    if setting is None:
        from config import Config

        setting = Config.EARLIEST_RECEIPT
    setting = setting.strip()
    if setting.isdigit():
        return now - timedelta(days=int(setting))
    return datetime.combine(date.fromisoformat(setting), datetime.min.time(), tzinfo=LOCAL_TZ)


def validate_report(
    payload: Any, now: datetime, earliest: datetime | None = None
) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ValidationError({"body": "must be a JSON object"})
    try:
        data = clean_fields(REPORT_FIELDS, payload)
    except FieldError as error:
        raise ValidationError({error.path: error.message}) from None
    # A receipt time starts the statutory clocks: one in the future, or so far back that
    # every clock would be overdue and escalate at once, is a typing error (issue 9 §4).
    if data["received_at"] > now + FUTURE_TOLERANCE:
        raise ValidationError({"received_at": "is in the future"})
    earliest = earliest or earliest_receipt(now)
    if data["received_at"] < earliest:
        shown = earliest.astimezone(LOCAL_TZ).date().isoformat()
        raise ValidationError(
            {"received_at": f"is too long ago: the earliest receipt accepted is {shown}"}
        )
    child = data.get("child") or {}
    if "birth_date" in child and "age_years" in child:
        raise ValidationError({"child.age_years": "give birth_date or age_years, not both"})
    if "birth_date" in child:
        born = date.fromisoformat(child["birth_date"])
        received = data["received_at"].date()
        if born > received:
            raise ValidationError({"child.birth_date": "is after the report was received"})
        if _age(born, received) >= CHILD_AGE_LIMIT:
            raise ValidationError(
                {"child.birth_date": "the person is 16 or older: not a child (Luật Trẻ em Art. 1)"}
            )
    if data["kind"] == ReportKind.ABUSE_REPORT:
        missing = {}
        if "child" not in data:
            missing["child"] = "is required for an abuse report"
        elif "full_name" not in child:
            missing["child.full_name"] = "is required for an abuse report"
        elif "sex" not in child:
            missing["child.sex"] = "is required for an abuse report"
        elif "birth_date" not in child and "age_years" not in child:
            missing["child.birth_date"] = "birth_date or age_years is required"
        elif "incident_unit_code" not in data:
            missing["incident_unit_code"] = "is required for an abuse report"
        elif not data.get("abuse_types"):
            missing["abuse_types"] = "at least one form of abuse is required"
        if missing:
            raise ValidationError(missing)
    return data


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@dataclass
class IntakeResult:
    report_id: int
    kind: str
    case: dict[str, Any] | None
    linked: bool = False
    reopened: bool = False

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"report_id": self.report_id, "kind": self.kind}
        if self.case is not None:
            body.update(
                case_id=self.case["id"],
                reference=self.case["reference"],
                state=self.case["state"],
                version=self.case["version"],
                deadlines=[
                    {
                        "step": d["step"],
                        "rule": d["rule"],
                        "due_at": d["due_at"],
                        "status": d["status"],
                    }
                    for d in self.case["deadlines"]
                ],
                linked_to_existing_case=self.linked,
                reopened=self.reopened,
            )
        return body


def _serialise_same_child(store: CaseStore, child: dict[str, Any]) -> None:
    """Two reports on the same child arriving at once must end in one case, not two: on
    PostgreSQL they queue on a transaction-scoped advisory lock keyed by the child's name
    (SQLite's writers are serialised already)."""
    if not store.postgres:
        return
    digest = hashlib.sha256(name_key(child["full_name"]).encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    store.driver().execute("SELECT pg_advisory_xact_lock(%s)", (key,))


def _existing_case_query(by_birth_date: bool, by_residence: bool) -> sa.Select[Any]:
    """A case on the same child: same name, same birth date (or age ±1), same place; an
    open case before a closed one, the latest first. Locked: the report is linked to it."""
    statement = (
        sa.select(Case.id)
        .join(Child, Case.child_id == Child.id)
        .where(Child.name_key == sa.bindparam("key"))
    )
    if by_birth_date:
        statement = statement.where(Child.birth_date == sa.bindparam("birth"))
    else:
        statement = statement.where(
            Child.age_years.between(sa.bindparam("low"), sa.bindparam("high"))
        )
    place = Child.residence_unit_id if by_residence else Case.unit_id
    return (
        statement.where(place == sa.bindparam("unit"))
        .order_by((Case.state == "closed").asc(), Case.received_at.desc())
        .limit(1)
        .with_for_update(of=Case, key_share=True)
    )


@cache
def _pg_existing_case_sql(by_birth_date: bool, by_residence: bool) -> tuple[str, dict[str, Any]]:
    """The same query as PostgreSQL text, for the store's bare connection (compiled once)."""
    from sqlalchemy.dialects.postgresql import psycopg

    compiled = _existing_case_query(by_birth_date, by_residence).compile(dialect=psycopg.dialect())
    return str(compiled), dict(compiled.params)


def _find_existing_case(
    store: CaseStore,
    child: dict[str, Any],
    residence: CommuneRef | None,
    incident: CommuneRef,
) -> CaseRow | None:
    by_birth_date = "birth_date" in child
    params: dict[str, Any] = {"key": name_key(child["full_name"])}
    if by_birth_date:
        params["birth"] = date.fromisoformat(child["birth_date"])
    else:
        params.update(low=child["age_years"] - 1, high=child["age_years"] + 1)
    params["unit"] = residence.id if residence is not None else incident.id
    if store.postgres:
        # On the store's own connection: sent in the same round trip as the lock before it.
        sql, defaults = _pg_existing_case_sql(by_birth_date, residence is not None)
        row = store.driver().execute(sql, {**defaults, **params}).fetchone()
        case_id = row[0] if row is not None else None
    else:
        query = _existing_case_query(by_birth_date, residence is not None)
        case_id = store.conn.scalar(query, params)
    return store.load(case_id) if case_id is not None else None


def record_report(
    db: Database, actor: User, payload: Any, now: datetime | None = None
) -> IntakeResult:
    """Record a report (Mẫu 01). An abuse report opens a case and starts its clocks (or is
    linked to the child's existing case, reopening it if closed); advice is only recorded."""
    now = now or utcnow()
    if actor.role not in (Role.INTAKE, Role.OFFICER, Role.CHAIR, Role.PROVINCE):
        from casework.errors import PermissionDenied

        raise PermissionDenied(f"role {actor.role!r} may not record reports")
    data = validate_report(payload, now)
    with open_store(db) as store:
        intake = Intake(store, actor, data, now)
        if data["kind"] == ReportKind.ADVICE:
            with store.transaction():
                return intake.advice()
        # Looked up (and cached) before batching: a lookup needs its answer at once.
        assert intake.incident is not None
        province_rules(store, "case", intake.incident.province_code)
        province_calendar(store, intake.incident.province_code)
        with store.batch(), store.transaction():
            report_id, case, linked, reopened = intake.abuse_report()
        # The answer is built once the writes are settled, outside the batch.
        view = event_view(store, case, actor, now)
        return IntakeResult(report_id, data["kind"], view, linked=linked, reopened=reopened)


class Intake:
    """The writes of one report, on one store."""

    def __init__(self, store: CaseStore, actor: User, data: dict[str, Any], now: datetime):
        self.store, self.actor, self.data, self.now = store, actor, data, now
        self.incident = None
        if data.get("incident_unit_code"):
            self.incident = commune_ref(store, data["incident_unit_code"], "incident_unit_code")
        self.child = data.get("child") or {}
        self.residence = None
        if self.child.get("unit_code"):
            self.residence = commune_ref(store, self.child["unit_code"], "child.unit_code")
        self.report = {
            "kind": data["kind"],
            "channel": data["channel"],
            "received_at": data["received_at"],
            "reporter": data.get("reporter", {}),
            "incident_unit_id": self.incident.id if self.incident else None,
            "abuse_types": data.get("abuse_types", []),
            "online": data.get("online", False),
            "environment": data.get("environment"),
            "description": data.get("description", ""),
            "created_by_id": actor.id,
            "created_at": now,
            "linked_to_existing": False,
        }

    def advice(self) -> IntakeResult:
        store, now = self.store, self.now
        if self.child.get("full_name"):
            self.report["child_id"] = insert_child(
                store, _child_values(self.child, self.residence, now)
            )
        report_id = insert_report(store, self.report)
        province = (
            self.incident.province_code if self.incident else None
        ) or self.actor.province_code
        store.append_audit(
            audit.Entry(
                action="contact.recorded",
                actor=self.actor,
                province_code=province,
                summary={"report_id": report_id, "channel": self.report["channel"]},
            ),
            now,
        )
        return IntakeResult(report_id, self.data["kind"], None)

    def abuse_report(self) -> tuple[int, CaseRow, bool, bool]:
        """(report id, case, linked to an existing case, reopened it). On PostgreSQL three
        round trips: lock + id reservation + search, then every write, then commit."""
        store, actor, now, incident = self.store, self.actor, self.now, self.incident
        assert incident is not None
        _serialise_same_child(store, self.child)
        reserved = store.reserve_ids()
        existing = _find_existing_case(store, self.child, self.residence, incident)
        if existing is not None:
            report_id, reopened = _link(store, actor, self.report, existing, now)
            return report_id, existing, True, reopened
        case = _new_case(incident, self.data, actor, now)
        child = _child_values(self.child, self.residence, now)
        report_id = create_case(store, child, case, self.report, reserved)
        # Entering "received" is the case's first change: its history, clocks and audit.
        clocks = on_state_entered(
            case,
            "received",
            now,
            province_rules(store, case.workflow, case.province_code),
            lambda: province_calendar(store, case.province_code),
        )
        entry = audit.Entry(
            action="case.created",
            actor=actor,
            province_code=case.province_code,
            case_id=case.id,
            summary={
                "report_id": report_id,
                "after": {"state": "received"},
                "deadlines": clocks.summary(),
            },
        )
        store.write(
            CaseChange(
                case=case,
                expected_version=case.version,
                history=history_row(
                    case, actor, "receive", None, "received", {"report_id": report_id}, now
                ),
                opened=clocks.opened,
                audit=entry.values(store.settings.audit_key, now),
            )
        )
        if self.data.get("auto_transfer", True):
            store.write(plan_event(store, case, actor, "transfer", {}, now))
        store.settle()
        return report_id, case, False, False


def _child_values(
    data: dict[str, Any], residence: CommuneRef | None, now: datetime
) -> dict[str, Any]:
    return {
        "full_name": data["full_name"],
        "name_key": name_key(data["full_name"]),
        "sex": data.get("sex", "unknown"),
        "birth_date": date.fromisoformat(data["birth_date"]) if "birth_date" in data else None,
        "age_years": data.get("age_years"),
        "age_as_of": now.date() if "age_years" in data else None,
        "residence_unit_id": residence.id if residence else None,
        "address": data.get("address", ""),
        "identifiers": {},
        "created_at": now,
    }


def _new_case(incident: CommuneRef, data: dict[str, Any], actor: User, now: datetime) -> CaseRow:
    received_at = data["received_at"]
    return CaseRow(
        id=0,  # id, child and reference: given by casestore.create_case
        reference="",
        workflow="case",
        child_id=0,
        unit_id=incident.id,
        province_code=incident.province_code,
        state="received",
        risk_level=data.get("risk_level"),
        assignee_id=None,
        created_by_id=actor.id,
        received_at=received_at,
        clock_started_at=received_at,
        cycle=1,
        last_seq=0,
        state_entered_at=now,
        facts={},
        closed_at=None,
        version=1,
        updated_at=now,
    )


def _link(
    store: CaseStore, actor: User, report: dict[str, Any], case: CaseRow, now: datetime
) -> tuple[int, bool]:
    """A repeat report: linked to the child's case, never a second case (domain.md §2)."""
    report_id = insert_report(
        store, {**report, "case_id": case.id, "child_id": case.child_id, "linked_to_existing": True}
    )
    reopened = case.state == "closed"
    if reopened:
        # A new report on a closed case reopens it; the system acts for the intake point.
        store.write(
            plan_event(
                store,
                case,
                None,
                "reopen",
                {"reason": f"new report {report_id}"},
                now,
                clock_anchor=report["received_at"],
            )
        )
    store.append_audit(
        audit.Entry(
            action="case.report_linked",
            actor=actor,
            province_code=case.province_code,
            case_id=case.id,
            summary={"report_id": report_id, "reopened": reopened},
        ),
        now,
    )
    store.settle()
    # Lean: the intake point learns which case it joined (event_view), not its contents.
    return report_id, reopened
