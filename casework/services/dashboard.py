"""The supervisor's overview: what in the chair's commune or the province officer's province
is late or about to be, counted by tile and by commune (province) or officer (commune).

Each tile is a condition on a case (`tile_condition`), so that the count on the dashboard
and the list behind the tile are one definition: the list filtered by a tile shows exactly
the cases the tile counts. Cases are counted, not clocks; closed cases never count."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from casework import scope
from casework.clock import LOCAL_TZ, utcnow
from casework.db import Database
from casework.errors import ValidationError
from casework.models import AdministrativeUnit, Case, Deadline, FiredRung, PlanTask, User
from casework.scope import supervises as supervises  # pages ask; scope.py decides
from workflows.case import INTAKE_STEPS, STATES

#: The tiles, in the order the page shows them.
TILES = ("unassigned", "overdue", "due_soon", "escalated", "approval")
#: How far ahead "due soon" looks by default, and at most.
DEFAULT_HORIZON_HOURS = 48
MAX_HORIZON_HOURS = 24 * 31
OPEN: ColumnElement[str] = sa.literal_column(
    "'open'"
)  # a literal: the partial index on open clocks applies


def horizon_hours(value: Any) -> int:
    """The "due within" horizon in hours, checked (ValidationError naming `hours`)."""
    if value in (None, ""):
        return DEFAULT_HORIZON_HOURS
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_HORIZON_HOURS:
        raise ValidationError({"hours": f"must be a whole number from 1 to {MAX_HORIZON_HOURS}"})
    return int(text)


def _case_clocks(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """The case has an open clock of its own steps (an agency's task clocks count on the
    agency tile) meeting `conditions`."""
    return sa.exists().where(
        Deadline.case_id == Case.id,
        Deadline.status == OPEN,
        Deadline.task_id.is_(None),
        *conditions,
    )


def tile_condition(tile: str, now: datetime, hours: int) -> ColumnElement[bool]:
    """The cases a tile counts, as a WHERE clause on cases (open cases only)."""
    horizon = now + timedelta(hours=hours)
    still_open = Case.state != "closed"
    if tile == "unassigned":
        # Waiting for the commune to accept it and name an officer (the 3 h / 1 h clock).
        return sa.and_(still_open, Case.assignee_id.is_(None), Case.state.in_(INTAKE_STEPS[:2]))
    if tile == "overdue":
        return sa.and_(still_open, _case_clocks(Deadline.due_at < now))
    if tile == "due_soon":
        return sa.and_(
            still_open,
            ~_case_clocks(Deadline.due_at < now),
            _case_clocks(Deadline.due_at >= now, Deadline.due_at < horizon),
        )
    if tile == "escalated":
        fired = (
            sa.select(FiredRung.id)
            .join(Deadline, FiredRung.deadline_id == Deadline.id)
            .where(
                FiredRung.case_id == Case.id,
                FiredRung.rung == "escalated",
                Deadline.status == OPEN,
            )
        )
        return sa.and_(still_open, sa.exists(fired))
    if tile == "approval":
        return Case.state == "plan_approval"
    raise ValidationError({"tile": f"must be one of: {', '.join(TILES)}"})


def overview(
    db: Database, actor: User, hours: int = DEFAULT_HORIZON_HOURS, now: datetime | None = None
) -> dict[str, Any]:
    """The tiles' counts in the actor's area, the same counts by commune (a province
    officer) or by officer (a chair), and the agencies' declined and overdue tasks.
    PermissionDenied-free: a role without a dashboard gets an empty overview."""
    now = now or utcnow()
    if not scope.supervises(actor):
        return {}
    conditions = {tile: tile_condition(tile, now, hours) for tile in TILES}
    counted = [sa.func.count(Case.id).filter(cond).label(tile) for tile, cond in conditions.items()]
    by_commune = scope.supervises_province(actor)
    with db.uow(readonly=True) as uow:
        session = uow.session
        area = scope.case_filter(actor)
        totals = session.execute(sa.select(*counted).where(area)).one()
        if by_commune:
            grouped = (
                sa.select(AdministrativeUnit.code, AdministrativeUnit.name, *counted)
                .join(AdministrativeUnit, Case.unit_id == AdministrativeUnit.id)
                .where(area)
                .group_by(AdministrativeUnit.code, AdministrativeUnit.name)
            )
        else:
            grouped = (
                sa.select(User.username, User.full_name, *counted)
                .outerjoin(User, Case.assignee_id == User.id)
                .where(area)
                .group_by(User.username, User.full_name)
            )
        rows: list[dict[str, Any]] = []
        for key, name, *numbers in session.execute(grouped):
            counts = dict(zip(TILES, (int(n or 0) for n in numbers), strict=True))
            if any(counts.values()):
                rows.append({"key": key, "name": name or key, **counts})
        rows.sort(key=lambda r: (-int(r["overdue"]), -int(r["due_soon"]), str(r["name"] or "")))
        # The forecast by step: overdue and due within the horizon, by the case's step now
        # (the list filters by step and tile: each count links to its cases).
        by_step = {
            state: {"overdue": int(late or 0), "due_soon": int(soon or 0)}
            for state, late, soon in session.execute(
                sa.select(
                    Case.state,
                    sa.func.count(Case.id).filter(conditions["overdue"]),
                    sa.func.count(Case.id).filter(conditions["due_soon"]),
                )
                .where(area, Case.state != "closed")
                .group_by(Case.state)
            )
            if late or soon
        }
        steps = [{"state": s, **by_step[s]} for s in STATES if s in by_step]
        today = now.astimezone(LOCAL_TZ).date()  # a task's due date is a day in Vietnam
        agencies = session.execute(
            sa.select(
                PlanTask.agency_kind,
                sa.func.count(PlanTask.id).filter(PlanTask.status == "declined"),
                sa.func.count(PlanTask.id).filter(
                    PlanTask.status.in_(("proposed", "accepted")), PlanTask.due_date < today
                ),
            )
            .join(Case, PlanTask.case_id == Case.id)
            .where(area, Case.state != "closed")
            .group_by(PlanTask.agency_kind)
        )
        agency = {
            kind: {"declined": int(declined), "overdue": int(overdue)}
            for kind, declined, overdue in agencies
            if declined or overdue
        }
    return {
        "hours": hours,
        "by": "commune" if by_commune else "officer",
        "tiles": {tile: int(getattr(totals, tile) or 0) for tile in TILES},
        "rows": rows,
        "steps": steps,
        "agencies": agency,
    }


def assignable_officers(db: Database, actor: User) -> list[tuple[str, str, str]]:
    """The officers a supervisor may name on the cases of the list (bulk reassignment):
    the active officers of the chair's commune or the province's communes — (username,
    name, commune name), by commune and name. Each case still takes only its own commune's
    officers (`scope.may_be_assigned`, checked by the command)."""
    if not scope.may_assign(actor):
        return []
    with db.uow(readonly=True) as uow:
        rows = uow.session.execute(
            sa.select(User.username, User.full_name, AdministrativeUnit.name)
            .join(AdministrativeUnit, User.unit_id == AdministrativeUnit.id)
            .where(scope.assignee_filter(actor), User.active.is_(True))
            .order_by(AdministrativeUnit.name, User.full_name, User.username)
        )
        return [(username, name or username, commune) for username, name, commune in rows]
