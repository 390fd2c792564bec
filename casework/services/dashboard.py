"""The supervisor's overview: what in the chair's commune or the province officer's province
is late or about to be, counted by tile and by commune (province) or officer (commune).

Each tile is a condition on a case (`tile_condition`), so that the count on the dashboard
and the list behind the tile are one definition: the list filtered by a tile shows exactly
the cases the tile counts. Cases are counted, not clocks; closed cases never count."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from casework import scope
from casework.clock import LOCAL_TZ, utcnow
from casework.db import Database
from casework.errors import ValidationError
from casework.models import AdministrativeUnit, Case, Deadline, FiredRung, PlanTask, User
from casework.models.base import UTCDateTime
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


#: Tasks the agencies' tile may count, as the partial index ix_plan_tasks_attention says.
ATTENTION = sa.text("plan_tasks.status IN ('proposed', 'accepted', 'declined')")


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
    agency tile) meeting `conditions`. An uncorrelated IN, not a correlated EXISTS: the
    database reads the open clocks once per query (a hashed set), not once per case."""
    return Case.id.in_(
        sa.select(Deadline.case_id).where(
            Deadline.status == OPEN, Deadline.task_id.is_(None), *conditions
        )
    )


def _running() -> ColumnElement[bool]:
    """The case has a clock running. Every tile's case has: waiting for assignment, the
    transfer or assignment clock; waiting for approval, the approval clock; overdue, due
    soon and escalated, by definition. Said in every tile, it lets the overview start from
    the open clocks (a partial index, as many rows as clocks running) instead of reading
    every case the province ever had."""
    return Case.id.in_(sa.select(Deadline.case_id).where(Deadline.status == OPEN))


def tile_condition(tile: str, now: datetime, hours: int) -> ColumnElement[bool]:
    """The cases a tile counts, as a WHERE clause on cases (open cases only)."""
    return _condition(tile, now, now + timedelta(hours=hours))


def _condition(tile: str, now: Any, horizon: Any) -> ColumnElement[bool]:
    """A tile's condition; `now` and `horizon` are times or bound parameters."""
    still_open = Case.state != "closed"
    if tile == "unassigned":
        # Waiting for the commune to accept it and name an officer (the 3 h / 1 h clock).
        return sa.and_(
            still_open,
            Case.assignee_id.is_(None),
            Case.state.in_(INTAKE_STEPS[:2]),
            _running(),
        )
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
            sa.select(FiredRung.case_id)
            .join(Deadline, FiredRung.deadline_id == Deadline.id)
            .where(FiredRung.rung == "escalated", Deadline.status == OPEN)
        )
        return sa.and_(still_open, Case.id.in_(fired))
    if tile == "approval":
        return sa.and_(Case.state == "plan_approval", _running())
    raise ValidationError({"tile": f"must be one of: {', '.join(TILES)}"})


@cache
def _counted() -> list[Any]:
    """The tiles' counts as columns, built once per process (building them costs more than
    the query that uses them); the times are bound at execution (`dashboard_now`,
    `dashboard_horizon`)."""
    now = sa.bindparam("dashboard_now", type_=UTCDateTime())
    horizon = sa.bindparam("dashboard_horizon", type_=UTCDateTime())
    return [sa.func.count(Case.id).filter(_condition(t, now, horizon)).label(t) for t in TILES]


def overview(
    db: Database, actor: User, hours: int = DEFAULT_HORIZON_HOURS, now: datetime | None = None
) -> dict[str, Any]:
    """The tiles' counts in the actor's area, the same counts by commune (a province
    officer) or by officer (a chair), and the agencies' declined and overdue tasks.
    PermissionDenied-free: a role without a dashboard gets an empty overview."""
    now = now or utcnow()
    if not scope.supervises(actor):
        return {}
    counted = _counted()
    times = {"dashboard_now": now, "dashboard_horizon": now + timedelta(hours=hours)}
    by_commune = scope.supervises_province(actor)
    with db.uow(readonly=True) as uow:
        session = uow.session
        area = scope.case_filter(actor)
        # One pass: counts by (commune or officer, step); the tiles, the table and the
        # forecast by step are its sums. Only cases with a clock running can count.
        if by_commune:
            keys: tuple[Any, ...] = (AdministrativeUnit.code, AdministrativeUnit.name)
            grouped = sa.select(*keys, Case.state, *counted).join(
                AdministrativeUnit, Case.unit_id == AdministrativeUnit.id
            )
        else:
            keys = (User.username, User.full_name)
            grouped = sa.select(*keys, Case.state, *counted).outerjoin(
                User, Case.assignee_id == User.id
            )
        grouped = grouped.where(area, Case.state != "closed", _running()).group_by(
            *keys, Case.state
        )
        totals = dict.fromkeys(TILES, 0)
        by_key: dict[Any, dict[str, Any]] = {}
        by_step: dict[str, dict[str, int]] = {}
        for key, name, state, *numbers in session.execute(grouped, times):
            counts = dict(zip(TILES, (int(n or 0) for n in numbers), strict=True))
            row = by_key.setdefault(
                key, {"key": key, "name": name or key, **dict.fromkeys(TILES, 0)}
            )
            step = by_step.setdefault(state, {"overdue": 0, "due_soon": 0})
            for tile, n in counts.items():
                totals[tile] += n
                row[tile] += n
                if tile in step:
                    step[tile] += n
        rows = [row for row in by_key.values() if any(row[t] for t in TILES)]
        rows.sort(key=lambda r: (-int(r["overdue"]), -int(r["due_soon"]), str(r["name"] or "")))
        # The forecast by step: overdue and due within the horizon, by the case's step now
        # (the list filters by step and tile: each count links to its cases).
        steps = [
            {"state": s, **by_step[s]}
            for s in STATES
            if s in by_step and (by_step[s]["overdue"] or by_step[s]["due_soon"])
        ]
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
            # Literally the partial index's condition (0013): only tasks that may count.
            .where(ATTENTION, area, Case.state != "closed")
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
        "tiles": totals,
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
