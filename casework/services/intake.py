"""Intake: record a report or an advice-only contact; open, link or reopen a case."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, cast

import sqlalchemy as sa

from casework import audit, notify, scope
from casework.casestore import (
    CaseChange,
    CaseRow,
    CaseStore,
    create_case,
    insert_child,
    insert_report,
    insert_rows,
    open_store,
)
from casework.clock import LOCAL_TZ, utcnow
from casework.db import Database
from casework.deadlines import on_state_entered
from casework.errors import Conflict, NotFound, ValidationError
from casework.models import (
    Case,
    Child,
    MatchStatus,
    Notification,
    NuisanceContact,
    NuisanceKind,
    ReportKind,
    ReportMatch,
    User,
)
from casework.names import exact_name_key, name_key, phone_key, visible
from casework.rules import province_calendar, province_rules
from casework.services.cases import history_row, plan_event
from casework.services.intake_queries import close_name_cases
from casework.services.queries import _unit_of, event_view
from casework.services.units import CommuneRef, commune_ref
from workflows.case import RISK_LEVELS
from workflows.spec import (
    FieldError,
    FieldSpec,
    FieldType,
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


def person_name(max_length: int) -> FieldType:
    """A person's name: invisible characters removed before it is stored or compared."""
    return replace(text(max_length), normalise=visible)


def _check_national_id(value: str, path: str) -> str:
    if not value.isascii() or not value.isdigit() or len(value) != 12:
        raise FieldError(path, "must be the 12 digits of a personal identification number")
    if not 1 <= int(value[:3]) <= 96:
        raise FieldError(path, "the first three digits (place of birth) must be 001–096")
    return value


def national_id() -> FieldType:
    """The 12-digit personal identification number (số định danh cá nhân): a 3-digit code
    of the place of birth registration (001–096), a digit for century and sex, the last two
    digits of the birth year, six digits."""
    return replace(text(12), check=_check_national_id)


def _id_century_and_sex(number: str) -> tuple[int, str]:
    """What the 4th digit says: 0/1 born in the 1900s, 2/3 the 2000s, 4/5 the 2100s...;
    even male, odd female."""
    digit = int(number[3])
    return 1900 + 100 * (digit // 2), ("male", "female")[digit % 2]


#: At most this many shown matches may be marked "a different child" in one report.
MAX_CHOSEN = 20

REPORT_FIELDS = (
    FieldSpec("kind", choice(*(kind.value for kind in ReportKind), labels="report_kind")),
    FieldSpec("channel", choice(*CHANNELS, labels="channel")),
    FieldSpec("received_at", iso_datetime()),
    FieldSpec(
        "reporter",
        record(
            FieldSpec("name", person_name(200), required=False),
            FieldSpec("phone", text(20), required=False),
            FieldSpec("relation", text(100), required=False),
            FieldSpec("anonymous", boolean(), required=False),
        ),
        required=False,
    ),
    FieldSpec(
        "child",
        record(
            FieldSpec("full_name", person_name(200), required=False),
            FieldSpec("sex", choice(*SEXES, labels="sex"), required=False),
            FieldSpec("national_id", national_id(), required=False),
            FieldSpec("birth_date", iso_date(), required=False),
            FieldSpec("age_years", integer(0, CHILD_AGE_LIMIT - 1), required=False),
            FieldSpec("unit_code", text(8), required=False, label="residence_unit"),
            FieldSpec("address", text(300), required=False),
        ),
        required=False,
    ),
    FieldSpec("incident_unit_code", text(8), required=False),
    FieldSpec(
        "abuse_types",
        list_of(choice(*ABUSE_TYPES, labels="abuse_type"), max_items=len(ABUSE_TYPES), unique=True),
        required=False,
    ),
    FieldSpec("online", boolean(), required=False),
    FieldSpec("environment", choice(*ENVIRONMENTS, labels="environment"), required=False),
    FieldSpec("description", text(10000), required=False),
    FieldSpec("risk_level", choice(*RISK_LEVELS, labels="risk"), required=False),
    FieldSpec("auto_transfer", boolean(), required=False),
    # The person's choice among the possible matches shown while typing (the intake page):
    # the case to link the report to, and the cases that are about a different child.
    FieldSpec("link_case_id", integer(1, 2**31 - 1), required=False),
    FieldSpec(
        "different_child_case_ids",
        list_of(integer(1, 2**31 - 1), max_items=MAX_CHOSEN, unique=True),
        required=False,
    ),
)


#: A contact that carries no case data (silent, hang-up, wrong number, prank, thanks).
NUISANCE_FIELDS = (
    FieldSpec("nuisance", choice(*(kind.value for kind in NuisanceKind), labels="nuisance")),
)


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
    if "national_id" in child:
        century, sex = _id_century_and_sex(child["national_id"])
        if child.get("sex") in ("female", "male") and child["sex"] != sex:
            raise ValidationError(
                {"child.national_id": f"its 4th digit says {sex}, the report says {child['sex']}"}
            )
        if "birth_date" in child:
            born = date.fromisoformat(child["birth_date"])
            if (
                born.year // 100 * 100 != century
                or int(child["national_id"][4:6]) != born.year % 100
            ):
                raise ValidationError(
                    {"child.national_id": "its digits 4–6 do not match the birth date"}
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
class PossibleMatch:
    """A possible match as the reporter is shown it: the case when the reporter may see it,
    otherwise only that another unit holds it."""

    reasons: list[str]
    case_id: int | None = None
    reference: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.case_id is None:  # nothing about it: not even why it matched
            return {"held_by_another_unit": True}
        return {"case_id": self.case_id, "reference": self.reference, "reasons": self.reasons}


@dataclass
class IntakeResult:
    report_id: int
    kind: str
    #: The case as the reporter may see it; None for advice, and for a report linked to a
    #: case the reporter may not see (then `passed_to` names the unit that holds it).
    case: dict[str, Any] | None
    linked: bool = False
    reopened: bool = False
    passed_to: dict[str, str] | None = None
    possible_matches: list[PossibleMatch] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"report_id": self.report_id, "kind": self.kind}
        if self.passed_to is not None:
            # Received and passed on: nothing about a case outside the reporter's scope.
            body["passed_to"] = self.passed_to
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
        if self.possible_matches:
            shown = [match.to_dict() for match in self.possible_matches if match.case_id]
            if any(match.case_id is None for match in self.possible_matches):
                shown.append({"held_by_another_unit": True})  # once, however many
            body["possible_matches"] = shown
        return body


def _serialise_same_child(store: CaseStore, child: dict[str, Any]) -> None:
    """Two reports on the same child arriving at once must end in one case, not two: on
    PostgreSQL they queue on transaction-scoped advisory locks keyed by the child's folded
    name and personal number, taken in order (SQLite's writers are serialised already)."""
    if not store.postgres:
        return
    names = [name_key(child["full_name"])]
    if child.get("national_id"):
        names.append("id:" + child["national_id"])
    for name in sorted(names):
        digest = hashlib.sha256(name.encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        store.driver().execute("SELECT pg_advisory_xact_lock(%s)", (key,))


@dataclass
class Candidate:
    """A case on a child who may be the report's: the case's place and the child's data."""

    id: int
    reference: str
    unit_id: int
    province_code: str
    created_by_id: int | None
    child_id: int
    full_name: str
    sex: str
    birth_date: date | None
    age_years: int | None
    age_as_of: date | None
    residence_unit_id: int | None
    national_id: str | None


#: At most this many cases are weighed as certain matches (the same personal number, or the
#: same folded name, sex, birth date and commune) and as possible ones (the same folded name
#: in the report's communes, the latest first).
MAX_CANDIDATES = 100


_CANDIDATE_COLUMNS = (
    Case.id,
    Case.reference,
    Case.unit_id,
    Case.province_code,
    Case.created_by_id,
    Child.id,
    Child.full_name,
    Child.sex,
    Child.birth_date,
    Child.age_years,
    Child.age_as_of,
    Child.residence_unit_id,
    Child.national_id,
)
_LATEST_OPEN_FIRST = ((Case.state == "closed").asc(), Case.received_at.desc(), Case.id.desc())


def _candidates_query(certain: bool) -> Any:
    """`certain`: cases that may be the child's beyond doubt — the same personal number
    (first), or the same folded name, sex, birth date and residence (few by construction;
    the exact name is compared after). Otherwise: cases on the same folded name living or
    seen in the report's communes (incident `u1`, residence `u2`), the latest first."""
    statement = sa.select(*_CANDIDATE_COLUMNS).join(Child, Case.child_id == Child.id)
    if certain:
        same_number = Child.national_id == sa.bindparam("nid")
        return (
            statement.where(
                sa.or_(
                    same_number,
                    sa.and_(
                        Child.name_key == sa.bindparam("key"),
                        Child.birth_date == sa.bindparam("birth"),
                        Child.sex == sa.bindparam("sex"),
                        Child.residence_unit_id == sa.bindparam("u2"),
                    ),
                )
            )
            .order_by(sa.case((same_number, 0), else_=1), *_LATEST_OPEN_FIRST)
            .limit(MAX_CANDIDATES)
        )
    places: tuple[Any, Any] = (sa.bindparam("u1"), sa.bindparam("u2"))
    return (
        statement.where(
            Child.name_key == sa.bindparam("key"),
            sa.or_(Child.residence_unit_id.in_(places), Case.unit_id.in_(places)),
        )
        .order_by(*_LATEST_OPEN_FIRST)
        .limit(MAX_CANDIDATES)
    )


@cache
def _pg_candidates_sql(certain: bool) -> tuple[str, dict[str, Any]]:
    """The same query as PostgreSQL text, for the store's bare connection (compiled once)."""
    from sqlalchemy.dialects.postgresql import psycopg

    compiled = _candidates_query(certain).compile(dialect=psycopg.dialect())
    return str(compiled), dict(compiled.params)


def _candidates(
    store: CaseStore, child: dict[str, Any], incident: CommuneRef, residence: CommuneRef | None
) -> tuple[list[Candidate], list[Candidate]]:
    """(cases that may be certain matches, cases that may be possible ones)."""
    params = {
        "key": name_key(child["full_name"]),
        "nid": child.get("national_id"),
        "birth": date.fromisoformat(child["birth_date"]) if "birth_date" in child else None,
        "sex": child.get("sex"),
        "u1": incident.id,
        "u2": residence.id if residence is not None else None,
    }
    if store.postgres:
        # On the store's own connection, both sent before either answer is read: they travel
        # in the same round trip as the lock before them.
        sent = []
        for certain in (True, False):
            sql, defaults = _pg_candidates_sql(certain)
            sent.append(store.driver().execute(sql, {**defaults, **params}))
        rows = [cursor.fetchall() for cursor in sent]
    else:
        rows = [list(store.conn.execute(_candidates_query(c), params)) for c in (True, False)]
    return [Candidate(*row) for row in rows[0]], [Candidate(*row) for row in rows[1]]


def _age_on(candidate: Candidate, day: date) -> int | None:
    if candidate.birth_date is not None:
        return _age(candidate.birth_date, day)
    if candidate.age_years is not None and candidate.age_as_of is not None:
        return candidate.age_years + (day - candidate.age_as_of).days // 365
    return None


def _certain(child: dict[str, Any], residence: CommuneRef | None, other: Candidate) -> bool:
    """The same child beyond doubt: the same personal number; or the same name as written,
    the same (known) sex, the same birth date and the same residence commune — and no
    personal numbers that differ."""
    number = child.get("national_id")
    if number and other.national_id:
        return bool(number == other.national_id)
    return (
        residence is not None
        and child.get("sex") in ("female", "male")
        and "birth_date" in child
        and other.sex == child["sex"]
        and other.birth_date == date.fromisoformat(child["birth_date"])
        and other.residence_unit_id == residence.id
        and exact_name_key(other.full_name) == exact_name_key(child["full_name"])
    )


def _weak_reasons(
    child: dict[str, Any],
    residence: CommuneRef | None,
    incident: CommuneRef,
    other: Candidate,
    received: date,
) -> list[str]:
    """Why `other` may be the same child on weaker evidence (a person decides), or [] when
    it is not worth a look: a folded name, a compatible birth year or age, the same commune."""
    if child.get("national_id") and other.national_id:
        return []  # two different personal numbers: two different people
    if name_key(other.full_name) != name_key(child["full_name"]):
        return []
    reasons = [
        "name"
        if exact_name_key(other.full_name) == exact_name_key(child["full_name"])
        else "name_folded"
    ]
    if "birth_date" in child and other.birth_date is not None:
        born = date.fromisoformat(child["birth_date"])
        if born == other.birth_date:
            reasons.append("birth_date")
        elif born.year == other.birth_date.year:
            reasons.append("birth_year")
        else:
            return []
    else:
        age = child.get("age_years")
        if age is None and "birth_date" in child:
            age = _age(date.fromisoformat(child["birth_date"]), received)
        theirs = _age_on(other, received)
        if age is None or theirs is None or abs(age - theirs) > 1:
            return []
        reasons.append("age")
    places = {incident.id} | ({residence.id} if residence is not None else set())
    if other.residence_unit_id in places or other.unit_id in places:
        reasons.append("commune")
    else:
        return []
    if child.get("sex") in ("female", "male") and other.sex == child["sex"]:
        reasons.append("sex")
    return reasons


@dataclass
class Matches:
    """What the search found: the case to link the report to (certain evidence only) and
    the cases that may be the same child (for a person to confirm or reject)."""

    certain: Candidate | None
    possible: list[tuple[Candidate, list[str]]]


def _find_matches(
    store: CaseStore,
    child: dict[str, Any],
    residence: CommuneRef | None,
    incident: CommuneRef,
    received: date,
) -> Matches:
    sure, candidates = _candidates(store, child, incident, residence)
    number = child.get("national_id")
    by_number = [c for c in sure if number and c.national_id == number]
    certain = next(iter(by_number), None) or next(
        (c for c in sure if _certain(child, residence, c)), None
    )
    possible = []
    seen_children: set[int] = set()
    for candidate in candidates:
        if certain is not None and candidate.id == certain.id:
            continue
        if certain is not None and candidate.child_id == certain.child_id:
            continue  # another case of the same child
        reasons = _weak_reasons(child, residence, incident, candidate, received)
        if reasons and candidate.child_id not in seen_children:
            seen_children.add(candidate.child_id)  # a child's latest case stands for it
            possible.append((candidate, reasons))
    return Matches(certain, possible)


def record_report(
    db: Database, actor: User, payload: Any, now: datetime | None = None
) -> IntakeResult:
    """Record a report (Mẫu 01). An abuse report opens a case and starts its clocks (or is
    linked to the child's existing case, reopening it if closed); advice is only recorded."""
    now = now or utcnow()
    if not scope.may_record_reports(actor):
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
        intake.check_choices()
        intake.find_close_names()
        province_rules(store, "case", intake.incident.province_code, now)
        province_calendar(store, intake.incident.province_code)
        with store.batch(), store.transaction():
            report_id, case, linked, reopened, matches = intake.abuse_report()
        # The answer is built once the writes are settled, outside the batch; it shows only
        # what the reporter may see (out of scope looks like "not found" here too).
        session = lambda: store.session  # noqa: E731
        possible = [
            PossibleMatch(reasons, candidate.id, candidate.reference)
            if scope.may_see(session, actor, cast(CaseRow, candidate))  # the same fields
            else PossibleMatch(reasons)
            for candidate, reasons in matches
        ]
        if not scope.may_see(session, actor, case):
            code, name = _unit_of(store, case.unit_id)
            return IntakeResult(
                report_id,
                data["kind"],
                None,
                linked=linked,
                reopened=reopened,
                passed_to={"unit_code": code, "unit_name": name},
                possible_matches=possible,
            )
        view = event_view(store, case, actor, now)
        return IntakeResult(
            report_id,
            data["kind"],
            view,
            linked=linked,
            reopened=reopened,
            possible_matches=possible,
        )


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
        #: The cases the person marked as about a different child (id -> province).
        self.different: dict[int, str] = {}
        #: Cases on a child whose name is a typo or two away (find_close_names).
        self.close: list[tuple[Candidate, list[str]]] = []
        self.report = {
            "kind": data["kind"],
            "channel": data["channel"],
            "received_at": data["received_at"],
            "reporter": data.get("reporter", {}),
            "reporter_phone": phone_key(data.get("reporter", {}).get("phone", "")) or None,
            "incident_unit_id": self.incident.id if self.incident else None,
            "abuse_types": data.get("abuse_types", []),
            "online": data.get("online", False),
            "environment": data.get("environment"),
            "description": data.get("description", ""),
            "created_by_id": actor.id,
            "created_at": now,
            "linked_to_existing": False,
        }

    def check_choices(self) -> None:
        """The cases chosen on the page (link to this one; these are a different child) must
        be cases the reporter may see: nothing else was shown to choose from."""
        chosen = self.data.get("link_case_id")
        different = self.data.get("different_child_case_ids", [])
        if chosen is None and not different:
            return
        ids = {*different, *([chosen] if chosen is not None else [])}
        visible = dict(
            self.store.session.execute(
                sa.select(Case.id, Case.province_code).where(
                    Case.id.in_(ids), scope.case_filter(self.actor)
                )
            ).all()
        )
        if chosen is not None and chosen not in visible:
            raise ValidationError({"link_case_id": "no case you may see has this number"})
        for index, case_id in enumerate(different):
            if case_id not in visible:
                raise ValidationError(
                    {f"different_child_case_ids[{index}]": "no case you may see has this number"}
                )
            if case_id == chosen:
                raise ValidationError(
                    {f"different_child_case_ids[{index}]": "is also the case chosen to link to"}
                )
        self.different = {case_id: visible[case_id] for case_id in different}

    def find_close_names(self) -> None:
        """Cases on a child whose name is a typo or two away (same birth year and commune):
        possible matches the search on the folded name misses, for the unit that holds each
        to confirm — the page suggested them, or said another unit holds one. Read before
        the writes (committed data): a possible match only asks a person to look."""
        child, incident = self.child, self.incident
        if not child.get("full_name") or incident is None:
            return
        if "birth_date" in child:
            years: tuple[int, ...] = (date.fromisoformat(child["birth_date"]).year,)
        elif "age_years" in child:
            year = self.data["received_at"].date().year - child["age_years"]
            years = (year - 1, year)
        else:
            return
        places = [incident.id, *([self.residence.id] if self.residence else [])]
        session = self.store.session
        found = close_name_cases(session, child["full_name"], years, places)
        close = {case_id: reasons for case_id, reasons in found.items() if "name_close" in reasons}
        if not close:
            return
        rows = session.execute(
            sa.select(*_CANDIDATE_COLUMNS)
            .join(Child, Case.child_id == Child.id)
            .where(Case.id.in_(close))
            .order_by(*_LATEST_OPEN_FIRST)
        ).all()
        number = child.get("national_id")
        self.close = [
            (candidate, close[candidate.id])
            for candidate in (Candidate(*cast(Any, row)) for row in rows)
            if not (number and candidate.national_id and candidate.national_id != number)
        ]

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

    def abuse_report(
        self,
    ) -> tuple[int, CaseRow, bool, bool, list[tuple[Candidate, list[str]]]]:
        """(report id, case, linked to an existing case, reopened it, possible matches). On
        PostgreSQL three round trips for a new case: lock + id reservation + search, then
        every write with the chain head's lock, then the audit events and the commit."""
        store, actor, now, incident = self.store, self.actor, self.now, self.incident
        assert incident is not None
        _serialise_same_child(store, self.child)
        reserved = store.reserve_ids()
        found = _find_matches(
            store, self.child, self.residence, incident, self.data["received_at"].date()
        )
        # The person's choice on the page (checked by `check_choices`) comes before the
        # certain match: they saw the cases; the cases marked as another child are not
        # possible matches (the decision is recorded instead).
        chosen = self.data.get("link_case_id")
        possible = [
            (candidate, reasons)
            for candidate, reasons in found.possible
            if candidate.id not in self.different and candidate.id != chosen
        ]
        target = chosen if chosen is not None else found.certain.id if found.certain else None
        possible += self._close_not_found(possible, target, found.certain)
        if target is not None:
            existing = store.load(target, lock=True)
            assert existing is not None
            report_id, reopened = _link(store, actor, self.report, existing, now)
            _record_matches(store, report_id, possible, now)
            self._record_different(report_id)
            return report_id, existing, True, reopened, possible
        case = _new_case(incident, self.data, actor, now)
        child = _child_values(self.child, self.residence, now)
        report_id = create_case(store, child, case, self.report, reserved)
        # Entering "received" is the case's first change: its history, clocks and audit.
        clocks = on_state_entered(
            case,
            "received",
            now,
            province_rules(store, case.workflow, case.province_code, now),
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
                audit=entry.values(now),
            )
        )
        if self.data.get("auto_transfer", True):
            store.write(plan_event(store, case, actor, "transfer", {}, now))
        _record_matches(store, report_id, possible, now)
        self._record_different(report_id)
        return report_id, case, False, False, possible

    def _close_not_found(
        self,
        possible: list[tuple[Candidate, list[str]]],
        target: int | None,
        certain: Candidate | None,
    ) -> list[tuple[Candidate, list[str]]]:
        """The close names that are not already a match (one case per child)."""
        children = {candidate.child_id for candidate, _reasons in possible}
        if certain is not None:
            children.add(certain.child_id)
        extra = []
        for candidate, reasons in self.close:
            if candidate.id in self.different or candidate.id == target:
                continue
            if candidate.child_id in children:
                continue
            children.add(candidate.child_id)
            extra.append((candidate, reasons))
        return extra

    def _record_different(self, report_id: int) -> None:
        """The cases the person marked as about a different child: decided at once (rejected
        by the reporter, audited), nobody to ask."""
        if not self.different:
            return
        store, actor, now = self.store, self.actor, self.now
        insert_rows(
            store,
            ReportMatch.__table__,  # type: ignore[arg-type]
            [
                {
                    "report_id": report_id,
                    "case_id": case_id,
                    "reasons": ["marked_different"],
                    "status": MatchStatus.REJECTED,
                    "created_at": now,
                    "decided_by_id": actor.id,
                    "decided_at": now,
                }
                for case_id in self.different
            ],
        )
        for case_id, province in self.different.items():
            store.append_audit(
                audit.Entry(
                    action="case.match_rejected",
                    actor=actor,
                    province_code=province,
                    case_id=case_id,
                    summary={"report_id": report_id, "at_intake": True},
                ),
                now,
            )


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
        "national_id": data.get("national_id"),
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
    # The unit that holds the case hears of the new report (whoever recorded it, wherever).
    kind = "case.report_reopened" if reopened else "case.report_linked"
    staff = notify.case_staff(store.session, case.unit_id, case.assignee_id)
    base_url = str(store.settings.extra.get("base_url", ""))
    insert_rows(
        store,
        Notification.__table__,  # type: ignore[arg-type]
        notify.notice_rows(staff, kind, case.id, case.reference, base_url, now),
    )
    return report_id, reopened


def _record_matches(
    store: CaseStore,
    report_id: int,
    possible: list[tuple[Candidate, list[str]]],
    now: datetime,
) -> None:
    """Possible matches stay on the report, for a person to confirm or reject: the units that
    hold the matched cases are told (they decide)."""
    base_url = str(store.settings.extra.get("base_url", ""))
    for candidate, _reasons in possible:
        staff = notify.case_staff(store.session, candidate.unit_id, None)
        insert_rows(
            store,
            Notification.__table__,  # type: ignore[arg-type]
            notify.notice_rows(
                staff, "case.possible_match", candidate.id, candidate.reference, base_url, now
            ),
        )
    insert_rows(
        store,
        ReportMatch.__table__,  # type: ignore[arg-type]
        [
            {
                "report_id": report_id,
                "case_id": candidate.id,
                "reasons": reasons,
                "status": MatchStatus.OPEN,
                "created_at": now,
            }
            for candidate, reasons in possible
        ],
    )


def decide_match(
    db: Database, actor: User, match_id: Any, same_child: Any, now: datetime | None = None
) -> dict[str, Any]:
    """A person of the unit that holds the matched case confirms (the same child) or
    rejects (a different child) a possible match recorded on a report. Audited; decided once.
    Linking the report's own case into the matched one is a workflow step of its own."""
    now = now or utcnow()
    if isinstance(match_id, bool) or not isinstance(match_id, int):
        raise ValidationError({"match_id": "must be a possible match's number"})
    if not isinstance(same_child, bool):
        raise ValidationError({"same_child": "must be true (the same child) or false"})
    if not scope.may_decide_matches(actor):
        raise NotFound(f"possible match {match_id} not found")
    with db.uow() as uow:
        session = uow.session
        match = session.scalars(
            sa.select(ReportMatch)
            .join(Case, ReportMatch.case_id == Case.id)
            .where(ReportMatch.id == match_id, scope.case_filter(actor))
            .with_for_update(of=ReportMatch)
        ).first()
        if match is None:
            raise NotFound(f"possible match {match_id} not found")
        if match.status != MatchStatus.OPEN:
            raise Conflict(f"possible match {match_id} was already decided ({match.status})")
        match.status = MatchStatus.CONFIRMED if same_child else MatchStatus.REJECTED
        match.decided_by_id, match.decided_at = actor.id, now
        case = session.get(Case, match.case_id)
        assert case is not None
        audit.record(
            session,
            uow.settings.audit_key,
            actor=actor,
            action="case.match_confirmed" if same_child else "case.match_rejected",
            now=now,
            province_code=case.province_code,
            case_id=case.id,
            summary={"report_id": match.report_id, "match_id": match.id},
        )
        uow.commit()
        return {"id": match.id, "report_id": match.report_id, "status": match.status}


def record_nuisance(
    db: Database, actor: User, payload: Any, now: datetime | None = None
) -> dict[str, Any]:
    """A contact without case data, counted for the statistics: its kind, when, and the
    province of the intake point; nothing about the caller."""
    now = now or utcnow()
    if not scope.may_record_reports(actor):
        from casework.errors import PermissionDenied

        raise PermissionDenied(f"role {actor.role!r} may not record contacts")
    if not isinstance(payload, dict):
        raise ValidationError({"body": "must be an object"})
    try:
        data = clean_fields(NUISANCE_FIELDS, payload)
    except FieldError as error:
        raise ValidationError({error.path: error.message}) from None
    with db.uow() as uow:
        row = NuisanceContact(
            kind=data["nuisance"],
            received_at=now,
            province_code=actor.province_code,
            created_by_id=actor.id,
        )
        uow.session.add(row)
        uow.session.flush()
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor,
            action="contact.nuisance",
            now=now,
            province_code=actor.province_code,
            summary={"contact_id": row.id, "kind": row.kind},
        )
        uow.commit()
        return {"id": row.id, "kind": row.kind}
