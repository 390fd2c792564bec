"""What the intake page reads as the user types: their draft, communes by name, a caller's
earlier contacts, possible earlier cases on the same child, a saved report's outcome, and
the day's contacts without case data. Every read filters through scope.py; a read that
shows a child's data is audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from rapidfuzz.distance import Levenshtein

from casework import audit, scope
from casework.clock import LOCAL_TZ, utcnow
from casework.db import Database
from casework.errors import NotFound
from casework.models import (
    AdministrativeUnit,
    Case,
    Child,
    IntakeDraft,
    NuisanceContact,
    Report,
    ReportMatch,
    UnitLevel,
    User,
)
from casework.names import exact_name_key, name_key, phone_key
from casework.scope import may_record_reports as may_record_reports  # pages ask; scope decides
from casework.services.queries import case_view

# --- drafts ----------------------------------------------------------------------------------


def load_draft(db: Database, actor: User) -> tuple[list[tuple[str, str]], datetime] | None:
    """The actor's own draft (fields as typed, when saved), or None. Nobody else's."""
    with db.uow(readonly=True) as uow:
        draft = uow.session.scalars(
            sa.select(IntakeDraft).where(IntakeDraft.user_id == actor.id)
        ).first()
        if draft is None or not draft.fields:
            return None
        return [(str(name), str(value)) for name, value in draft.fields], draft.updated_at


# --- communes --------------------------------------------------------------------------------

#: How many communes the typeahead offers.
COMMUNES_SHOWN = 8


def find_communes(
    db: Database, actor: User, text: str, limit: int = COMMUNES_SHOWN
) -> list[dict[str, str]]:
    """Communes of the actor's province (every province for a national intake point) whose
    name holds each word typed, with or without diacritics: "hai van" finds "Phường Hải
    Vân"; digits find a commune by its code. Those whose name starts with the words first."""
    words = name_key(text[:100]).split()
    if not words:
        return []
    today = utcnow().astimezone(LOCAL_TZ).date()
    statement = sa.select(
        AdministrativeUnit.code, AdministrativeUnit.name, AdministrativeUnit.province_code
    ).where(
        AdministrativeUnit.level == UnitLevel.COMMUNE,
        AdministrativeUnit.valid_from <= today,
        sa.or_(AdministrativeUnit.valid_to.is_(None), AdministrativeUnit.valid_to >= today),
    )
    if actor.province_code is not None:
        statement = statement.where(AdministrativeUnit.province_code == actor.province_code)
    with db.uow(readonly=True) as uow:
        rows = uow.session.execute(statement).all()
    found = []
    wanted = " ".join(words)
    for code, name, province in rows:
        folded = name_key(name)
        if code.startswith(wanted) or all(word in folded for word in words):
            # "phuong hai van" starts with its kind: rank on what follows it.
            bare = folded.split(" ", 1)[-1]
            rank = 0 if bare.startswith(wanted) or code.startswith(wanted) else 1
            found.append((rank, folded, {"code": code, "name": name, "province": province}))
    found.sort(key=lambda item: (item[0], item[1]))
    return [entry for _rank, _folded, entry in found[:limit]]


# --- a caller's earlier contacts ---------------------------------------------------------------

#: A phone key shorter than this finds too much to mean anything.
PHONE_MIN_DIGITS = 8


def phone_history(db: Database, actor: User, phone: str) -> dict[str, Any] | None:
    """ "N earlier contacts, M cases" for a reporter's phone: the counts, and the cases among
    them that the actor may see (the others are counted, never named)."""
    key = phone_key(phone[:40])
    if len(key) < PHONE_MIN_DIGITS:
        return None
    with db.uow(readonly=True) as uow:
        session = uow.session
        contacts = int(
            session.scalar(sa.select(sa.func.count(Report.id)).where(Report.reporter_phone == key))
            or 0
        )
        if not contacts:
            return {"contacts": 0, "cases": 0, "visible": [], "elsewhere": 0}
        case_ids = sa.select(Report.case_id).where(
            Report.reporter_phone == key, Report.case_id.is_not(None)
        )
        total = int(
            session.scalar(
                sa.select(sa.func.count(sa.distinct(Report.case_id))).where(
                    Report.reporter_phone == key, Report.case_id.is_not(None)
                )
            )
            or 0
        )
        visible = [
            {"id": case_id, "reference": reference, "state": state}
            for case_id, reference, state in session.execute(
                sa.select(Case.id, Case.reference, Case.state)
                .where(Case.id.in_(case_ids), scope.case_filter(actor))
                .order_by(Case.received_at.desc())
                .limit(20)
            )
        ]
    return {
        "contacts": contacts,
        "cases": total,
        "visible": visible,
        "elsewhere": max(total - len(visible), 0),
    }


# --- possible earlier cases on the same child ------------------------------------------------

#: At most this many cases are weighed for a close name, and this many suggestions shown.
MAX_WEIGHED, MAX_SHOWN = 500, 10


def typo_budget(key: str) -> int:
    """How many typos a folded name may differ by and still be suggested. None for a name
    holding digits: a placeholder ("Trẻ 2"), of which "Trẻ 3" is another child, not a typo."""
    if any(ch.isdigit() for ch in key):
        return 0
    return 2 if len(key) >= 10 else 1 if len(key) >= 5 else 0


@dataclass
class Typed:
    """What the page has of the child and the reporter so far (unchecked, partial)."""

    full_name: str = ""
    national_id: str = ""
    birth_date: date | None = None
    age_years: int | None = None
    communes: tuple[str, ...] = ()
    phone: str = ""

    def birth_years(self, today: date) -> tuple[int, ...]:
        if self.birth_date is not None:
            return (self.birth_date.year,)
        if self.age_years is not None:
            return (today.year - self.age_years - 1, today.year - self.age_years)
        return ()


@dataclass
class Suggestion:
    case_id: int
    reasons: list[str] = field(default_factory=list)


def suggest_matches(
    db: Database, actor: User, typed: Typed, now: datetime | None = None
) -> dict[str, Any]:
    """Earlier cases that may be the same child, each with why: the same personal number;
    the folded name within a typo or two (rapidfuzz) with the same birth year and commune;
    the same reporter phone. Those the actor may see are shown (an audited read of the
    child's data); of the others only that one exists ("held by another unit")."""
    now = now or utcnow()
    today = now.astimezone(LOCAL_TZ).date()
    found: dict[int, Suggestion] = {}

    def add(case_id: int, reason: str) -> None:
        entry = found.setdefault(case_id, Suggestion(case_id))
        if reason not in entry.reasons:
            entry.reasons.append(reason)

    with db.uow(readonly=True) as uow:
        session = uow.session
        number = typed.national_id.strip()
        if len(number) == 12 and number.isascii() and number.isdigit():
            for (case_id,) in session.execute(
                sa.select(Case.id)
                .join(Child, Case.child_id == Child.id)
                .where(Child.national_id == number)
                .limit(MAX_SHOWN)
            ):
                add(case_id, "national_id")
        places = _commune_ids(session, typed.communes)
        years = typed.birth_years(today)
        for case_id, reasons in close_name_cases(session, typed.full_name, years, places).items():
            for reason in reasons:
                add(case_id, reason)
        phone = phone_key(typed.phone[:40])
        if len(phone) >= PHONE_MIN_DIGITS:
            for (linked,) in session.execute(
                sa.select(Report.case_id)
                .where(Report.reporter_phone == phone, Report.case_id.is_not(None))
                .distinct()
                .limit(MAX_SHOWN)
            ):
                if linked is not None:
                    add(linked, "reporter_phone")
        if not found:
            return {"shown": [], "held_elsewhere": False}
        visible = _visible_cases(session, actor, list(found), today)
    visible.sort(key=lambda entry: _strength(found[entry["id"]]))
    shown = visible[:MAX_SHOWN]
    if shown:  # what the page shows of a child is an audited read (the reads above are not)
        with db.uow() as uow:
            for entry in shown:
                entry["reasons"] = found[entry["id"]].reasons
                audit.record(
                    uow.session,
                    uow.settings.audit_key,
                    actor=actor,
                    action="case.suggested",
                    now=now,
                    province_code=entry["province_code"],
                    case_id=entry["id"],
                    summary={"reasons": entry["reasons"]},
                )
            uow.commit()
    return {"shown": shown, "held_elsewhere": len(visible) < len(found)}


def close_name_cases(
    session: Any, full_name: str, years: tuple[int, ...], places: list[int]
) -> dict[int, list[str]]:
    """Cases on a child whose folded name is within a typo or two of `full_name` (rapidfuzz's
    Levenshtein distance), born in one of `years` (an age known only: a year either side),
    living or seen in one of the communes `places` — the latest first. Used by the page's
    suggestions and by intake's possible matches alike."""
    key = name_key(full_name[:200])
    budget = typo_budget(key)
    if not budget or not years or not places:
        return {}
    born = sa.or_(
        Child.birth_date.between(date(min(years), 1, 1), date(max(years), 12, 31)),
        sa.and_(Child.birth_date.is_(None), Child.age_years.is_not(None)),
    )
    rows = session.execute(
        sa.select(Case.id, Child.full_name, Child.birth_date, Child.age_years, Child.age_as_of)
        .join(Child, Case.child_id == Child.id)
        .where(born, sa.or_(Child.residence_unit_id.in_(places), Case.unit_id.in_(places)))
        .order_by(Case.received_at.desc(), Case.id.desc())
        .limit(MAX_WEIGHED)
    ).all()
    found: dict[int, list[str]] = {}
    for case_id, other, birth, age, as_of in rows:
        year = birth.year if birth else _birth_year(age, as_of)
        if year is None or not min(years) - (birth is None) <= year <= max(years):
            continue
        distance = Levenshtein.distance(name_key(other), key, score_cutoff=budget)
        if distance > budget:
            continue
        if exact_name_key(other) == exact_name_key(full_name):
            name = "name"
        else:
            name = "name_folded" if distance == 0 else "name_close"
        found[case_id] = [name, "birth_year" if birth else "age", "commune"]
    return found


def _strength(suggestion: Suggestion) -> tuple[int, int]:
    """The strongest evidence first: a personal number, then more reasons."""
    return (0 if "national_id" in suggestion.reasons else 1, -len(suggestion.reasons))


def _birth_year(age: int | None, as_of: date | None) -> int | None:
    if age is None or as_of is None:
        return None
    return as_of.year - age


def _commune_ids(session: Any, codes: tuple[str, ...]) -> list[int]:
    codes = tuple(code for code in codes if code and code.isdigit() and len(code) <= 8)
    if not codes:
        return []
    return list(
        session.scalars(
            sa.select(AdministrativeUnit.id).where(
                AdministrativeUnit.code.in_(codes),
                AdministrativeUnit.level == UnitLevel.COMMUNE,
            )
        )
    )


def _visible_cases(
    session: Any, actor: User, case_ids: list[int], today: date
) -> list[dict[str, Any]]:
    """The cases among `case_ids` the actor may see, with what tells the child apart."""
    rows = session.execute(
        sa.select(Case, Child, AdministrativeUnit.name)
        .join(Child, Case.child_id == Child.id)
        .join(AdministrativeUnit, Case.unit_id == AdministrativeUnit.id)
        .where(Case.id.in_(case_ids), scope.case_filter(actor))
    ).all()
    return [
        {
            "id": case.id,
            "reference": case.reference,
            "state": case.state,
            "province_code": case.province_code,
            "unit_name": unit_name,
            "received_at": case.received_at.isoformat(),
            "child": {
                "full_name": child.full_name,
                "sex": child.sex,
                "birth_date": child.birth_date.isoformat() if child.birth_date else None,
                "age_years": child.age_on(today),
            },
        }
        for case, child, unit_name in rows
    ]


# --- after saving ----------------------------------------------------------------------------


def report_outcome(
    db: Database, actor: User, report_id: int, now: datetime | None = None
) -> dict[str, Any]:
    """A report the actor recorded, as the page shows it once saved: the case (reference,
    commune, running clocks) when the actor may see it, else the unit it was passed to;
    and its possible matches (those held by another unit only as such)."""
    now = now or utcnow()
    with db.uow(readonly=True) as uow:
        session = uow.session
        report = session.scalars(
            sa.select(Report).where(Report.id == report_id, Report.created_by_id == actor.id)
        ).first()
        if report is None:
            raise NotFound(f"report {report_id} not found")
        outcome: dict[str, Any] = {
            "report_id": report.id,
            "kind": report.kind,
            "received_at": report.received_at.isoformat(),
            "linked": report.linked_to_existing,
            "case": None,
            "passed_to": None,
            "matches": [],
            "held_elsewhere": False,
        }
        if report.case_id is not None:
            case = session.get(Case, report.case_id)
            assert case is not None
            if scope.may_see(lambda: session, actor, case):
                outcome["case"] = case_view(session, case, actor, now, full=False)
            else:
                unit = session.get(AdministrativeUnit, case.unit_id)
                outcome["passed_to"] = unit.name if unit else None
        for match, case in session.execute(
            sa.select(ReportMatch, Case)
            .join(Case, ReportMatch.case_id == Case.id)
            .where(ReportMatch.report_id == report.id)
            .order_by(ReportMatch.id)
        ):
            if scope.may_see(lambda: session, actor, case):
                outcome["matches"].append(
                    {"case_id": case.id, "reference": case.reference, "status": match.status}
                )
            else:
                outcome["held_elsewhere"] = True
    return outcome


# --- contacts without case data ----------------------------------------------------------------


def nuisance_counts(db: Database, actor: User, now: datetime | None = None) -> dict[str, int]:
    """Today's contacts without case data by kind (Vietnam's day), at the actor's intake
    point: its province, or the contacts the actor recorded when it has none."""
    now = now or utcnow()
    start = datetime.combine(now.astimezone(LOCAL_TZ).date(), datetime.min.time(), LOCAL_TZ)
    where = [
        NuisanceContact.received_at >= start,
        NuisanceContact.received_at < start + timedelta(days=1),
    ]
    if actor.province_code is not None:
        where.append(NuisanceContact.province_code == actor.province_code)
    else:
        where.append(NuisanceContact.created_by_id == actor.id)
    with db.uow(readonly=True) as uow:
        return {
            str(kind): int(count)
            for kind, count in uow.session.execute(
                sa.select(NuisanceContact.kind, sa.func.count(NuisanceContact.id))
                .where(*where)
                .group_by(NuisanceContact.kind)
            )
        }
