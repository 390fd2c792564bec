"""What the administrators' units and agencies pages read: the 2025 tree (provinces →
communes, searched by folded words like the intake typeahead), the older units apart, and
a unit's agencies with their focal points. A province administrator sees its province."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from casework import scope
from casework.db import Database
from casework.errors import NotFound
from casework.models import AdministrativeUnit, Agency, FocalPoint, PlanTask, UnitLevel, User
from casework.names import name_key
from casework.scope import administered_province as administered_province
from casework.scope import administers as administers

#: Communes a page of the tree shows.
UNITS_PAGE = 50


def unit_by_code(session: Session, actor: User, code: str) -> AdministrativeUnit:
    """The unit with this code (the current one if the code was reused) whose agencies
    `actor` manages; NotFound otherwise, as for a code no unit has."""
    unit = session.scalars(
        sa.select(AdministrativeUnit)
        .where(AdministrativeUnit.code == code[:8])
        .order_by(
            AdministrativeUnit.valid_to.is_(None).desc(), AdministrativeUnit.valid_from.desc()
        )
        .limit(1)
    ).first()
    if unit is None or not scope.administers(actor, unit.province_code):
        raise NotFound(f"no unit {code[:8]!r} among those you administer")
    return unit


def agency_uses(session: Session, agency_id: int) -> dict[str, int]:
    """What holds on to an agency: its users' accounts and the tasks referred to it."""
    users = session.scalar(sa.select(sa.func.count(User.id)).where(User.agency_id == agency_id))
    tasks = session.scalar(
        sa.select(sa.func.count(PlanTask.id)).where(PlanTask.agency_id == agency_id)
    )
    return {"users": int(users or 0), "tasks": int(tasks or 0)}


#: The kind a unit's name starts with, left out when names are put in order.
_KINDS = ("thanh pho ", "tinh ", "phuong ", "xa ", "dac khu ", "thi tran ", "huyen ", "quan ")


def _sort_key(name: str) -> str:
    """Names in the order people look for them: "Thành phố Đà Nẵng" among the D's."""
    folded = name_key(name)
    for kind in _KINDS:
        if folded.startswith(kind):
            return folded[len(kind) :]
    return folded


def _row(unit: AdministrativeUnit) -> dict[str, Any]:
    return {
        "id": unit.id,
        "code": unit.code,
        "name": unit.name,
        "level": unit.level,
        "province_code": unit.province_code,
        "valid_from": unit.valid_from.isoformat(),
        "valid_to": unit.valid_to.isoformat() if unit.valid_to else None,
    }


def units_tree(
    db: Database, actor: User, province: str | None = None, text: str = "", page: int = 1
) -> dict[str, Any]:
    """The current (2025) units `actor` administers: the provinces with their commune
    counts, and one province's communes — or, with `text`, the communes whose name holds
    every word typed (with or without diacritics) or whose code starts with it — a page at
    a time. A province administrator's view is fixed to its province."""
    own = scope.administered_province(actor)
    if own is not None:
        if province not in (None, own):
            raise NotFound(f"no province {province[:8]!r} among those you administer")
        province = own
    words = name_key(text[:100]).split()
    current = AdministrativeUnit.valid_to.is_(None)
    with db.uow(readonly=True) as uow:
        session = uow.session
        counts = dict(
            session.execute(
                sa.select(AdministrativeUnit.province_code, sa.func.count())
                .where(current, AdministrativeUnit.level == UnitLevel.COMMUNE)
                .group_by(AdministrativeUnit.province_code)
            ).all()
        )
        provinces = sorted(
            (
                {**_row(unit), "communes": int(counts.get(unit.code, 0))}
                for unit in session.scalars(
                    sa.select(AdministrativeUnit).where(
                        current, AdministrativeUnit.level == UnitLevel.PROVINCE
                    )
                )
                if own is None or unit.code == own
            ),
            key=lambda p: _sort_key(p["name"]),
        )
        if province is not None and not any(p["code"] == province for p in provinces):
            raise NotFound(f"no province {province[:8]!r} among those you administer")
        communes: list[dict[str, Any]] = []
        if province is not None or words:
            statement = sa.select(AdministrativeUnit).where(
                current, AdministrativeUnit.level == UnitLevel.COMMUNE
            )
            if province is not None:
                statement = statement.where(AdministrativeUnit.province_code == province)
            agencies = dict(
                session.execute(
                    sa.select(Agency.unit_id, sa.func.count()).group_by(Agency.unit_id)
                ).all()
            )
            wanted = " ".join(words)
            names = {p["code"]: p["name"] for p in provinces}
            for unit in session.scalars(statement):
                folded = name_key(unit.name)
                if words and not (
                    unit.code.startswith(wanted) or all(word in folded for word in words)
                ):
                    continue
                communes.append(
                    {
                        **_row(unit),
                        "folded": folded,
                        "province_name": names.get(unit.province_code, unit.province_code),
                        "agencies": int(agencies.get(unit.id, 0)),
                    }
                )
        communes.sort(key=lambda c: (_sort_key(c["name"]), c["code"]))
    pages = max(1, -(-len(communes) // UNITS_PAGE))
    page = min(max(page, 1), pages)
    selected = next((p for p in provinces if p["code"] == province), None)
    return {
        "provinces": provinces if selected is None or own is None else [selected],
        "province": selected,
        "text": text,
        "communes": communes[(page - 1) * UNITS_PAGE : page * UNITS_PAGE],
        "total": len(communes),
        "page": page,
        "pages": pages,
        "fixed_province": own is not None,
    }


def older_units(db: Database, actor: User) -> list[dict[str, Any]]:
    """Units that ended (`valid_to` set) in `actor`'s provinces, with their parent, their
    dates, and the current unit that now has their code, when there is one (the 2025
    reform kept the code of one of the communes it merged)."""
    own = scope.administered_province(actor)
    parent = aliased(AdministrativeUnit)
    successor = aliased(AdministrativeUnit)
    statement = (
        sa.select(AdministrativeUnit, parent.name, successor.name)
        .outerjoin(parent, parent.id == AdministrativeUnit.parent_id)
        .outerjoin(
            successor,
            sa.and_(
                successor.code == AdministrativeUnit.code,
                successor.level == AdministrativeUnit.level,
                successor.valid_to.is_(None),
            ),
        )
        .where(AdministrativeUnit.valid_to.is_not(None))
        .order_by(AdministrativeUnit.province_code, AdministrativeUnit.code)
    )
    if own is not None:
        statement = statement.where(AdministrativeUnit.province_code == own)
    with db.uow(readonly=True) as uow:
        return [
            {**_row(unit), "parent_name": parent_name, "became": successor_name}
            for unit, parent_name, successor_name in uow.session.execute(statement)
        ]


def unit_agencies(
    db: Database, actor: User, code: str = "", unit_id: int | None = None
) -> dict[str, Any]:
    """A unit (by code, or by id) `actor` administers, its agencies — each with its focal
    points and what holds on to it — ; NotFound for a unit of another province."""
    with db.uow(readonly=True) as uow:
        session = uow.session
        if unit_id is None:
            unit = unit_by_code(session, actor, code)
        else:
            found = session.get(AdministrativeUnit, unit_id)
            if found is None or not scope.administers(actor, found.province_code):
                raise NotFound(f"no unit {unit_id} among those you administer")
            unit = found
        agencies = list(
            session.scalars(
                sa.select(Agency)
                .where(Agency.unit_id == unit.id)
                .order_by(Agency.kind, Agency.name)
            )
        )
        points: dict[int, list[dict[str, Any]]] = {}
        for point in session.scalars(
            sa.select(FocalPoint)
            .where(FocalPoint.agency_id.in_([a.id for a in agencies]))
            .order_by(FocalPoint.name, FocalPoint.id)
        ):
            points.setdefault(point.agency_id, []).append(
                {
                    "id": point.id,
                    "name": point.name,
                    "position": point.position,
                    "phone": point.phone,
                    "email": point.email,
                }
            )
        parent = session.get(AdministrativeUnit, unit.parent_id) if unit.parent_id else None
        return {
            "unit": {**_row(unit), "parent_name": parent.name if parent else None},
            "agencies": [
                {
                    "id": a.id,
                    "kind": a.kind,
                    "name": a.name,
                    "focal_points": points.get(a.id, []),
                    "uses": agency_uses(session, a.id),
                }
                for a in agencies
            ],
        }


def agency_unit(db: Database, actor: User, agency_id: int) -> int:
    """The unit (id) of an agency `actor` manages; NotFound otherwise."""
    with db.uow(readonly=True) as uow:
        row = uow.session.execute(
            sa.select(AdministrativeUnit.id, AdministrativeUnit.province_code)
            .join(Agency, Agency.unit_id == AdministrativeUnit.id)
            .where(Agency.id == agency_id)
        ).first()
    if row is None or not scope.administers(actor, row.province_code):
        raise NotFound(f"no agency {agency_id} among those you administer")
    return int(row.id)


def focal_point_agency(db: Database, actor: User, point_id: int) -> int:
    """The agency of a focal point `actor` manages; NotFound otherwise."""
    with db.uow(readonly=True) as uow:
        row = uow.session.execute(
            sa.select(Agency.id, AdministrativeUnit.province_code)
            .join(FocalPoint, FocalPoint.agency_id == Agency.id)
            .join(AdministrativeUnit, AdministrativeUnit.id == Agency.unit_id)
            .where(FocalPoint.id == point_id)
        ).first()
    if row is None or not scope.administers(actor, row.province_code):
        raise NotFound(f"no focal point {point_id} among those you administer")
    return int(row.id)
