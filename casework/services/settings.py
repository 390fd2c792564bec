"""Administrators' workflow settings: a province's extra days off and swapped working days,
and its own deadlines, assignee roles and ladders. Data, never code; every change audited."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from casework import audit, scope
from casework.clock import utcnow
from casework.db import Database
from casework.errors import NotFound, ValidationError
from casework.models import CalendarDay, CalendarDayKind, DeadlineOverride, Role, UnitLevel, User
from casework.services.units import find_unit
from workflows.engine import WORKFLOWS
from workflows.spec import DurationUnit, Rung


def _province(db: Database, code: str) -> str:
    with db.uow(readonly=True) as uow:
        unit = find_unit(uow.session, code, level=UnitLevel.PROVINCE)
    if unit is None:
        raise ValidationError({"province": f"no province has code {code!r}"})
    return unit.code


def _check_admin(actor: User | None) -> None:
    if actor is not None and not scope.may_administer(actor):
        from casework.errors import PermissionDenied

        raise PermissionDenied("only administrators change workflow settings")


def add_calendar_day(
    db: Database,
    province: str,
    day: date,
    kind: str,
    note: str = "",
    actor: User | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A day off (e.g. a bridge day) or a weekend day worked, for one province."""
    _check_admin(actor)
    now = now or utcnow()
    if kind not in {k.value for k in CalendarDayKind}:
        raise ValidationError({"kind": "must be off or work"})
    if kind == CalendarDayKind.WORK and day.weekday() < 5:
        raise ValidationError({"date": f"{day.isoformat()} is a weekday: it is already worked"})
    code = _province(db, province)
    with db.uow() as uow:
        exists = uow.session.scalar(
            sa.select(CalendarDay.id).where(
                CalendarDay.province_code == code, CalendarDay.day == day
            )
        )
        if exists:
            raise ValidationError(
                {"date": f"{day.isoformat()} is already in the calendar of province {code}"}
            )
        uow.session.add(CalendarDay(province_code=code, day=day, kind=kind, note=note))
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor,
            action="settings.calendar_day_added",
            now=now,
            province_code=code,
            summary={"day": day.isoformat(), "kind": kind},
        )
        uow.commit()
    db.cache.clear()
    return {"province": code, "date": day.isoformat(), "kind": kind, "note": note}


def remove_calendar_day(
    db: Database, province: str, day: date, actor: User | None = None, now: datetime | None = None
) -> None:
    _check_admin(actor)
    now = now or utcnow()
    code = _province(db, province)
    with db.uow() as uow:
        row = uow.session.scalars(
            sa.select(CalendarDay).where(CalendarDay.province_code == code, CalendarDay.day == day)
        ).first()
        if row is None:
            raise NotFound(f"{day.isoformat()} is not in the calendar of province {code}")
        uow.session.delete(row)
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor,
            action="settings.calendar_day_removed",
            now=now,
            province_code=code,
            summary={"day": day.isoformat(), "kind": row.kind},
        )
        uow.commit()
    db.cache.clear()


def calendar_days(db: Database, province: str) -> list[dict[str, Any]]:
    code = _province(db, province)
    with db.uow(readonly=True) as uow:
        return [
            {"date": r.day.isoformat(), "kind": r.kind, "note": r.note}
            for r in uow.session.scalars(
                sa.select(CalendarDay)
                .where(CalendarDay.province_code == code)
                .order_by(CalendarDay.day)
            )
        ]


def set_override(
    db: Database,
    province: str,
    rule: str,
    *,
    workflow: str = "case",
    duration: int | None = None,
    unit: str | None = None,
    high_risk_duration: int | None = None,
    assignee_role: str | None = None,
    ladder: list[dict[str, Any]] | None = None,
    legal_source: str = "",
    actor: User | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A province's own value for a deadline rule. Applies to clocks opened from now on."""
    _check_admin(actor)
    now = now or utcnow()
    if workflow not in WORKFLOWS:
        raise ValidationError({"workflow": f"unknown workflow (known: {', '.join(WORKFLOWS)})"})
    names = [r.name for r in WORKFLOWS[workflow].deadlines]
    if rule not in names:
        raise ValidationError({"rule": f"unknown rule (known: {', '.join(names)})"})
    for field, value in (("duration", duration), ("high_risk_duration", high_risk_duration)):
        if value is not None and not 1 <= value <= 1000:
            raise ValidationError({field: "must be between 1 and 1000"})
    if unit is not None and unit not in {u.value for u in DurationUnit}:
        raise ValidationError(
            {"unit": f"must be one of: {', '.join(u.value for u in DurationUnit)}"}
        )
    if assignee_role is not None and assignee_role not in {r.value for r in Role}:
        raise ValidationError(
            {"assignee_role": f"must be one of: {', '.join(r.value for r in Role)}"}
        )
    if ladder is not None:
        if not isinstance(ladder, list) or not ladder:
            raise ValidationError({"ladder": "must be a non-empty list of rungs"})
        try:
            ladder = [Rung.from_dict(rung).to_dict() for rung in ladder]
        except (KeyError, TypeError, ValueError) as error:
            raise ValidationError({"ladder": f"invalid rung: {error}"}) from None
    if all(v is None for v in (duration, unit, high_risk_duration, assignee_role, ladder)):
        raise ValidationError(
            {
                "rule": "nothing to override: give a duration, unit, "
                "high-risk duration, assignee role or ladder"
            }
        )
    code = _province(db, province)
    with db.uow() as uow:
        row = uow.session.scalars(
            sa.select(DeadlineOverride).where(
                DeadlineOverride.province_code == code,
                DeadlineOverride.workflow == workflow,
                DeadlineOverride.rule == rule,
            )
        ).first()
        if row is None:
            row = DeadlineOverride(province_code=code, workflow=workflow, rule=rule, updated_at=now)
            uow.session.add(row)
        row.duration, row.unit, row.high_risk_duration = duration, unit, high_risk_duration
        row.assignee_role, row.ladder, row.legal_source = assignee_role, ladder, legal_source
        row.updated_at = now
        summary = {
            "rule": rule,
            "duration": duration,
            "unit": unit,
            "high_risk_duration": high_risk_duration,
            "assignee_role": assignee_role,
            "ladder": ladder,
            "legal_source": legal_source,
        }
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor,
            action="settings.deadline_override",
            now=now,
            province_code=code,
            summary=summary,
        )
        uow.commit()
    db.cache.clear()
    return {"province": code, "workflow": workflow, **summary}


def overrides(db: Database, province: str) -> list[dict[str, Any]]:
    code = _province(db, province)
    with db.uow(readonly=True) as uow:
        return [
            {
                "rule": r.rule,
                "workflow": r.workflow,
                "duration": r.duration,
                "unit": r.unit,
                "high_risk_duration": r.high_risk_duration,
                "assignee_role": r.assignee_role,
                "ladder": r.ladder,
                "legal_source": r.legal_source,
            }
            for r in uow.session.scalars(
                sa.select(DeadlineOverride)
                .where(DeadlineOverride.province_code == code)
                .order_by(DeadlineOverride.rule)
            )
        ]
