"""Administrative units: lookup by official code, and loading the 2025 units."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from casework import audit, scope
from casework.clock import utcnow
from casework.db import Database
from casework.errors import NotFound, PermissionDenied, ValidationError
from casework.models import (
    AdministrativeUnit,
    Agency,
    AgencyKind,
    FocalPoint,
    UnitLevel,
    User,
)
from casework.services.forms import clean
from casework.services.unit_queries import agency_uses, unit_by_code
from workflows.spec import FieldError, FieldSpec, choice, iso_date, text

#: The two-tier local government took effect on 1/7/2025 (province → commune, no district).
REFORM_DATE = date(2025, 7, 1)


def find_unit(
    session: Session, code: str, level: str | None = None, on: date | None = None
) -> AdministrativeUnit | None:
    """The unit with this official code that is valid on `on` (default: now)."""
    statement = sa.select(AdministrativeUnit).where(AdministrativeUnit.code == code)
    if level:
        statement = statement.where(AdministrativeUnit.level == level)
    if on is not None:
        statement = statement.where(
            AdministrativeUnit.valid_from <= on,
            sa.or_(AdministrativeUnit.valid_to.is_(None), AdministrativeUnit.valid_to >= on),
        )
    statement = statement.order_by(
        AdministrativeUnit.valid_to.is_(None).desc(), AdministrativeUnit.valid_from.desc()
    )
    return session.scalars(statement.limit(1)).first()


def require_commune(session: Session, code: str, field: str) -> AdministrativeUnit:
    unit = find_unit(session, code)
    if unit is None:
        raise ValidationError({field: f"no administrative unit has code {code!r}"})
    if unit.level != UnitLevel.COMMUNE:
        raise ValidationError({field: f"{code!r} is a {unit.level}, a commune code is needed"})
    if unit.valid_to is not None:
        raise ValidationError({field: f"{code!r} was dissolved on {unit.valid_to.isoformat()}"})
    return unit


@dataclass(frozen=True)
class CommuneRef:
    """What a case needs of its commune; cached per process like the province settings."""

    id: int
    code: str
    name: str
    province_code: str
    parent_id: int | None


def commune_ref(lookups: Any, code: str, field: str) -> CommuneRef:
    """`require_commune`, through the cache of `lookups` (a UnitOfWork or a CaseStore).
    Only valid communes are cached; a unit dissolved or added shows within the cache TTL."""

    def load() -> CommuneRef:
        unit = require_commune(lookups.session, code, field)
        assert unit.province_code is not None  # every commune lies in a province
        return CommuneRef(unit.id, unit.code, unit.name, unit.province_code, unit.parent_id)

    return lookups.cache.get(("commune", code), load)  # type: ignore[no-any-return]


def load_2025_units(
    db: Database, progress: Callable[[int, int], None] | None = None
) -> dict[str, int]:
    """Load or refresh the 34 provinces and 3,321 communes of `vietnam-provinces`.

    Idempotent: existing units (same code, level and validity) are updated, not duplicated.
    """
    import vietnam_provinces as vp

    provinces = list(vp.Province.iter_all())
    wards = list(vp.Ward.iter_all())
    total = len(provinces) + len(wards)
    counts = {"provinces": 0, "communes": 0, "added": 0, "updated": 0}
    done = 0
    with db.uow() as uow:
        session = uow.session
        existing = {
            (unit.level, unit.code): unit
            for unit in session.scalars(
                sa.select(AdministrativeUnit).where(AdministrativeUnit.valid_from == REFORM_DATE)
            )
        }

        def upsert(
            level: str, code: str, name: str, parent_id: int | None, province: str
        ) -> AdministrativeUnit:
            unit = existing.get((level, code))
            if unit is None:
                unit = AdministrativeUnit(
                    code=code,
                    level=level,
                    name=name,
                    parent_id=parent_id,
                    province_code=province,
                    valid_from=REFORM_DATE,
                )
                session.add(unit)
                existing[(level, code)] = unit
                counts["added"] += 1
            elif (unit.name, unit.parent_id, unit.province_code) != (name, parent_id, province):
                unit.name, unit.parent_id, unit.province_code = name, parent_id, province
                counts["updated"] += 1
            return unit

        province_ids: dict[str, int] = {}
        for province in provinces:
            code = f"{int(province.code):02d}"
            unit = upsert(UnitLevel.PROVINCE, code, province.name, None, code)
            session.flush()
            province_ids[code] = unit.id
            counts["provinces"] += 1
            done += 1
            if progress:
                progress(done, total)
        for index, ward in enumerate(wards, start=1):
            province_code = f"{int(ward.province_code):02d}"
            upsert(
                UnitLevel.COMMUNE,
                f"{int(ward.code):05d}",
                ward.name,
                province_ids[province_code],
                province_code,
            )
            counts["communes"] += 1
            done += 1
            if progress and (index % 100 == 0 or index == len(wards)):
                progress(done, total)
        uow.commit()
    return counts


LEVEL_DIGITS = {UnitLevel.PROVINCE: 2, UnitLevel.DISTRICT: 3, UnitLevel.COMMUNE: 5}


def add_unit(
    db: Database,
    code: str,
    name: str,
    level: str,
    parent_code: str | None,
    valid_from: date,
    valid_to: date | None = None,
    actor: User | None = None,
) -> AdministrativeUnit:
    """Add one unit by hand — typically a pre-2025 district or commune (`valid_to`
    30/6/2025) that historic cases keep; vietnam-provinces ships the 2025 units only.
    `actor`: the administrator (None from the command line); only a national one may."""
    if actor is not None and not scope.administers(actor, None):
        raise PermissionDenied("only a national administrator adds administrative units")
    if level not in LEVEL_DIGITS:
        raise ValidationError({"level": "must be province, district or commune"})
    digits = LEVEL_DIGITS[UnitLevel(level)]
    if not (code.isdigit() and len(code) == digits):
        raise ValidationError({"code": f"a {level} code has {digits} digits"})
    if not name.strip():
        raise ValidationError({"name": "must not be empty"})
    if valid_to is not None and valid_to < valid_from:
        raise ValidationError({"valid_to": "is before valid_from"})
    with db.uow() as uow:
        session = uow.session
        parent = None
        if level == UnitLevel.PROVINCE:
            if parent_code:
                raise ValidationError({"parent": "a province has no parent"})
        else:
            if not parent_code:
                raise ValidationError({"parent": f"a {level} needs its parent's code"})
            # The parent as it was then; a province that kept its code across the 2025
            # reform (e.g. 48 Đà Nẵng) is only loaded in its 2025 form, and serves as well.
            parent = find_unit(session, parent_code, on=valid_from) or find_unit(
                session, parent_code
            )
            if parent is None:
                raise ValidationError({"parent": f"no unit has code {parent_code!r}"})
            allowed = ("province",) if level == UnitLevel.DISTRICT else ("province", "district")
            if parent.level not in allowed:
                raise ValidationError({"parent": f"a {level} cannot belong to a {parent.level}"})
        # The same code at the same level may come back only for other dates (the reform
        # reused codes): a unit whose validity overlaps the new one's is a duplicate.
        clash = session.scalars(
            sa.select(AdministrativeUnit)
            .where(
                AdministrativeUnit.code == code,
                AdministrativeUnit.level == level,
                AdministrativeUnit.valid_from <= (valid_to or date.max),
                sa.or_(
                    AdministrativeUnit.valid_to.is_(None),
                    AdministrativeUnit.valid_to >= valid_from,
                ),
            )
            .limit(1)
        ).first()
        if clash is not None:
            until = clash.valid_to.isoformat() if clash.valid_to else "today"
            raise ValidationError(
                {
                    "code": f"{level} {code} already exists for these dates "
                    f"({clash.name}, {clash.valid_from.isoformat()} to {until})"
                }
            )
        unit = AdministrativeUnit(
            code=code,
            name=name.strip(),
            level=level,
            parent_id=parent.id if parent else None,
            province_code=parent.province_code if parent else code,
            valid_from=valid_from,
            valid_to=valid_to,
        )
        session.add(unit)
        session.flush()
        audit.record(
            session,
            uow.settings.audit_key,
            actor=actor,
            action="settings.unit_added",
            now=utcnow(),
            province_code=unit.province_code,
            summary={
                "unit_id": unit.id,
                "code": code,
                "level": level,
                "valid_from": valid_from.isoformat(),
                "valid_to": valid_to.isoformat() if valid_to else None,
            },
        )
        uow.commit()
        return unit


# --- the administrators' forms ---------------------------------------------------------------

#: An older unit, as the administrators' page adds it (it ended: `valid_to` is required).
UNIT_FIELDS = (
    FieldSpec("code", text(8), label="official_code"),
    FieldSpec("name", text(200), label="unit_name"),
    FieldSpec("level", choice(*LEVEL_DIGITS, labels="unit_level"), label="unit_level"),
    FieldSpec("parent", text(8), required=False, label="parent_code"),
    FieldSpec("valid_from", iso_date(), label="valid_from"),
    FieldSpec("valid_to", iso_date(), label="valid_to"),
)


def add_older_unit(db: Database, actor: User, data: dict[str, Any]) -> AdministrativeUnit:
    """The page's form: `data` as typed, checked against UNIT_FIELDS, then `add_unit`."""
    if not scope.administers(actor, None):
        raise PermissionDenied("only a national administrator adds administrative units")
    values = clean(UNIT_FIELDS, data)
    return add_unit(
        db,
        values["code"],
        values["name"],
        values["level"],
        values.get("parent"),
        date.fromisoformat(values["valid_from"]),
        date.fromisoformat(values["valid_to"]),
        actor=actor,
    )


_PHONE = re.compile(r"\+?[0-9][0-9 .()-]{5,30}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _phone(value: str, path: str) -> str:
    if not _PHONE.fullmatch(value):
        raise FieldError(path, "must be a phone number (digits, spaces, + . - ( ))")
    return value


def _email(value: str, path: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise FieldError(path, "must be an e-mail address")
    return value


AGENCY_FIELDS = (
    FieldSpec("kind", choice(*AgencyKind, labels="agency"), label="agency_type"),
    FieldSpec("name", text(200), label="agency_name"),
)
FOCAL_POINT_FIELDS = (
    FieldSpec("name", text(200), label="contact_name"),
    FieldSpec("position", text(200), required=False, label="position"),
    FieldSpec("phone", dataclasses.replace(text(40), check=_phone), required=False),
    FieldSpec("email", dataclasses.replace(text(200), check=_email), required=False),
)


def _agency_in_scope(session: Session, actor: User, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None or not scope.administers(actor, agency.unit.province_code):
        raise NotFound(f"no agency {agency_id} among those you administer")
    return agency


def _agency_values(session: Session, unit_id: int, data: dict[str, Any], own: int | None) -> Any:
    values = clean(AGENCY_FIELDS, data)
    twin = session.scalar(
        sa.select(Agency.id).where(
            Agency.unit_id == unit_id,
            Agency.kind == values["kind"],
            sa.func.lower(Agency.name) == values["name"].lower(),
        )
    )
    if twin is not None and twin != own:
        raise ValidationError({"name": "an agency of this kind has this name at this unit"})
    return values


def add_agency(db: Database, actor: User, unit_code: str, data: dict[str, Any]) -> int:
    """A partner agency at a unit (its kind and name); audited. Returns its id."""
    now = utcnow()
    with db.uow() as uow:
        session = uow.session
        unit = unit_by_code(session, actor, unit_code)
        values = _agency_values(session, unit.id, data, None)
        agency = Agency(unit_id=unit.id, kind=values["kind"], name=values["name"])
        session.add(agency)
        session.flush()
        audit.record(
            session,
            uow.settings.audit_key,
            actor=actor,
            action="settings.agency_added",
            now=now,
            province_code=unit.province_code,
            summary={"agency_id": agency.id, "unit": unit.code, **values},
        )
        uow.commit()
        return agency.id


def change_agency(db: Database, actor: User, agency_id: int, data: dict[str, Any]) -> None:
    """Rename an agency (or correct its kind); audited with what it was."""
    now = utcnow()
    with db.uow() as uow:
        session = uow.session
        agency = _agency_in_scope(session, actor, agency_id)
        values = _agency_values(session, agency.unit_id, data, agency.id)
        before = {"kind": agency.kind, "name": agency.name}
        if before == values:
            return
        agency.kind, agency.name = values["kind"], values["name"]
        audit.record(
            session,
            uow.settings.audit_key,
            actor=actor,
            action="settings.agency_changed",
            now=now,
            province_code=agency.unit.province_code,
            summary={"agency_id": agency.id, "before": before, "after": values},
        )
        uow.commit()


def remove_agency(db: Database, actor: User, agency_id: int) -> None:
    """Delete an agency no user and no task refers to (with its focal points); audited."""
    now = utcnow()
    with db.uow() as uow:
        session = uow.session
        agency = _agency_in_scope(session, actor, agency_id)
        uses = agency_uses(session, agency.id)
        if uses["users"] or uses["tasks"]:
            raise ValidationError(
                {
                    "agency": f"is in use by {uses['users']} user(s) and {uses['tasks']} "
                    "task(s): it cannot be deleted"
                }
            )
        province, summary = (
            agency.unit.province_code,
            {
                "agency_id": agency.id,
                "kind": agency.kind,
                "name": agency.name,
            },
        )
        session.execute(sa.delete(FocalPoint).where(FocalPoint.agency_id == agency.id))
        session.delete(agency)
        audit.record(
            session,
            uow.settings.audit_key,
            actor=actor,
            action="settings.agency_removed",
            now=now,
            province_code=province,
            summary=summary,
        )
        uow.commit()


def _focal_values(data: dict[str, Any]) -> dict[str, str]:
    values = clean(FOCAL_POINT_FIELDS, data)
    if not values.get("phone") and not values.get("email"):
        raise ValidationError({"phone": "give a phone number or an e-mail address"})
    return {name: values.get(name, "") for name in ("name", "position", "phone", "email")}


def add_focal_point(db: Database, actor: User, agency_id: int, data: dict[str, Any]) -> int:
    """A person to contact at the agency; audited (which fields, not their values)."""
    now = utcnow()
    with db.uow() as uow:
        session = uow.session
        agency = _agency_in_scope(session, actor, agency_id)
        values = _focal_values(data)
        point = FocalPoint(agency_id=agency.id, **values)
        session.add(point)
        session.flush()
        audit.record(
            session,
            uow.settings.audit_key,
            actor=actor,
            action="settings.focal_point_added",
            now=now,
            province_code=agency.unit.province_code,
            summary={"agency_id": agency.id, "focal_point_id": point.id},
        )
        uow.commit()
        return point.id


def _focal_in_scope(session: Session, actor: User, point_id: int) -> FocalPoint:
    point = session.get(FocalPoint, point_id)
    if point is None:
        raise NotFound(f"no focal point {point_id}")
    _agency_in_scope(session, actor, point.agency_id)
    return point


def change_focal_point(db: Database, actor: User, point_id: int, data: dict[str, Any]) -> None:
    now = utcnow()
    with db.uow() as uow:
        session = uow.session
        point = _focal_in_scope(session, actor, point_id)
        values = _focal_values(data)
        changed = sorted(k for k, v in values.items() if getattr(point, k) != v)
        if not changed:
            return
        for name in changed:
            setattr(point, name, values[name])
        agency = session.get(Agency, point.agency_id)
        assert agency is not None
        audit.record(
            session,
            uow.settings.audit_key,
            actor=actor,
            action="settings.focal_point_changed",
            now=now,
            province_code=agency.unit.province_code,
            summary={"agency_id": agency.id, "focal_point_id": point.id, "fields": changed},
        )
        uow.commit()


def remove_focal_point(db: Database, actor: User, point_id: int) -> int:
    """Remove a focal point; returns its agency's id. Audited."""
    now = utcnow()
    with db.uow() as uow:
        session = uow.session
        point = _focal_in_scope(session, actor, point_id)
        agency = session.get(Agency, point.agency_id)
        assert agency is not None
        session.delete(point)
        audit.record(
            session,
            uow.settings.audit_key,
            actor=actor,
            action="settings.focal_point_removed",
            now=now,
            province_code=agency.unit.province_code,
            summary={"agency_id": agency.id, "focal_point_id": point_id},
        )
        uow.commit()
        return agency.id
