"""Administrative units: lookup by official code, and loading the 2025 units."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

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
