"""Administrative units: lookup by official code, and loading the 2025 units."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from casework import audit
from casework.clock import utcnow
from casework.db import Database
from casework.errors import ValidationError
from casework.models import AdministrativeUnit, UnitLevel

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
) -> AdministrativeUnit:
    """Add one unit by hand — typically a pre-2025 district or commune (`valid_to`
    30/6/2025) that historic cases keep; vietnam-provinces ships the 2025 units only."""
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
        clash = session.scalar(
            sa.select(AdministrativeUnit.id).where(
                AdministrativeUnit.code == code,
                AdministrativeUnit.level == level,
                AdministrativeUnit.valid_from == valid_from,
            )
        )
        if clash:
            raise ValidationError({"code": f"{level} {code} valid from {valid_from} exists"})
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
            actor=None,
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
