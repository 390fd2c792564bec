"""The supervisor's forecast: which clocks will be overdue in the next N days."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from casework.clock import utcnow
from casework.db import Database
from casework.errors import ValidationError
from casework.models import AdministrativeUnit, Case, Deadline, User
from casework.services.units import find_unit


def upcoming(
    db: Database,
    days: int,
    unit_code: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Open deadlines due before now + `days` (overdue ones included), grouped by unit,
    assignee and step; soonest first. `unit_code` is a commune or a whole province."""
    now = now or utcnow()
    if days < 0:
        raise ValidationError({"days": "must be 0 or more"})
    horizon = now + timedelta(days=days)
    with db.uow(readonly=True) as uow:
        session = uow.session
        statement = (
            sa.select(
                AdministrativeUnit.code,
                AdministrativeUnit.name,
                User.username,
                Deadline.step,
                sa.func.count(Deadline.id),
                sa.func.sum(sa.case((Deadline.due_at < now, 1), else_=0)),
                sa.func.min(Deadline.due_at),
            )
            .join(Case, Deadline.case_id == Case.id)
            .join(AdministrativeUnit, Case.unit_id == AdministrativeUnit.id)
            .outerjoin(User, Case.assignee_id == User.id)
            # A literal, so that the planner may use the partial index on open clocks even in
            # a prepared statement's generic plan.
            .where(Deadline.status == sa.literal_column("'open'"), Deadline.due_at <= horizon)
            .group_by(
                AdministrativeUnit.code, AdministrativeUnit.name, User.username, Deadline.step
            )
            .order_by(sa.func.min(Deadline.due_at))
        )
        if unit_code:
            unit = find_unit(session, unit_code)
            if unit is None:
                raise ValidationError({"unit": f"no administrative unit has code {unit_code!r}"})
            if unit.level == "province":
                statement = statement.where(Case.province_code == unit.code)
            else:
                statement = statement.where(Case.unit_id == unit.id)
        return [
            {
                "unit_code": code,
                "unit_name": name,
                "assignee": username,
                "step": step,
                "count": int(count),
                "overdue": int(overdue or 0),
                "first_due_at": first_due.isoformat() if first_due else None,
            }
            for code, name, username, step, count, overdue, first_due in session.execute(statement)
        ]
