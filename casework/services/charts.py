"""The supervisor's charts, as numbers: new cases per month by form of abuse, the share of
deadlines met on time per step, and the median time from receipt to the initial assessment
and to the plan's approval — each in the chair's commune or the province officer's province
(`scope.case_filter`), of the cases received in the last twelve months (months of
Vietnam's calendar), by month of receipt. One cohort for the three charts, found through
the lists' own indexes (commune or province, receipt time): a chart costs the cases of a
year, never the province's whole history.

The pages draw them (`web/dashboard/charts.py`); the numbers are counted here, in SQL, with
the same scope as the dashboard's tiles. Months are buckets of a `CASE` over the months'
first instants (UTC), so the query is the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from statistics import median
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from casework import scope
from casework.clock import LOCAL_TZ, utcnow
from casework.db import Database
from casework.models import Case, Deadline, Report, User
from casework.services.intake import ABUSE_TYPES

#: How many months the charts look back (the current month included).
MONTHS = 12
#: The clocks whose time from receipt is charted: they are anchored at the receipt and met
#: when the initial assessment is done (NĐ 56/2017 Art. 26(2)) and when the plan is
#: approved (Art. 28).
MEDIAN_RULES = ("initial_assessment", "plan_approval")
MET: ColumnElement[str] = sa.literal_column("'met'")


def month_starts(now: datetime, months: int = MONTHS) -> list[datetime]:
    """The first instants (aware, local) of the last `months` months, oldest first, and of
    the month after the current one: `months + 1` boundaries."""
    local = now.astimezone(LOCAL_TZ)
    year, month = local.year, local.month
    starts = []
    for back in range(months - 1, -2, -1):
        index = year * 12 + (month - 1) - back
        starts.append(datetime(index // 12, index % 12 + 1, 1, tzinfo=LOCAL_TZ))
    return starts


def _bucket(column: Any, starts: list[datetime]) -> ColumnElement[int]:
    """The month index (0 = oldest) of a timestamp inside the window; NULL outside."""
    return sa.case(
        *((column < starts[i + 1], i) for i in range(len(starts) - 1)), else_=None
    ).label("month")


def _window(column: Any, starts: list[datetime]) -> ColumnElement[bool]:
    return sa.and_(column >= starts[0], column < starts[-1])


def _labels(starts: list[datetime]) -> list[str]:
    return [f"{s.month:02d}/{s.year}" for s in starts[:-1]]


def new_cases(db: Database, actor: User, now: datetime | None = None) -> dict[str, Any]:
    """Cases received in each of the last twelve months, by form of abuse (a case reported
    with two forms counts under each; `total` counts it once). Only supervisors get rows."""
    now = now or utcnow()
    starts = month_starts(now)
    counts = {kind: [0] * MONTHS for kind in ABUSE_TYPES}
    totals = [0] * MONTHS
    if scope.supervises(actor):
        # The case list's abuse_type clause (catalogue ids, quoted in the stored JSON list),
        # over the cases' reports joined once; a case counts once per form (DISTINCT).
        types = sa.cast(Report.abuse_types, sa.Text)
        month = _bucket(Case.received_at, starts)
        query = (
            sa.select(
                month,
                sa.func.count(sa.distinct(Case.id)),
                *(
                    sa.func.count(sa.distinct(Case.id)).filter(
                        types.contains(f'"{kind}"', autoescape=True)
                    )
                    for kind in ABUSE_TYPES
                ),
            )
            .select_from(Case)
            .outerjoin(Report, Report.case_id == Case.id)
            .where(scope.case_filter(actor), _window(Case.received_at, starts))
            .group_by(month)
        )
        with db.uow(readonly=True) as uow:
            for index, total, *by_kind in uow.session.execute(query):
                totals[index] = int(total)
                for kind, n in zip(ABUSE_TYPES, by_kind, strict=True):
                    counts[kind][index] = int(n)
    kinds = [kind for kind in ABUSE_TYPES if any(counts[kind])]  # those the months hold
    return {"months": _labels(starts), "kinds": kinds, "counts": counts, "totals": totals}


def deadlines_met(db: Database, actor: User, now: datetime | None = None) -> dict[str, Any]:
    """The clocks of the cases received in the last twelve months, met, per rule (step):
    how many on time, how many late, and the share on time (percent, rounded). Clocks still
    running or cancelled are not counted; agencies' task clocks neither (the agencies')."""
    now = now or utcnow()
    starts = month_starts(now)
    rows: list[dict[str, Any]] = []
    if scope.supervises(actor):
        query = (
            sa.select(
                Deadline.rule,
                sa.func.count(Deadline.id).filter(Deadline.late.is_(False)),
                sa.func.count(Deadline.id).filter(Deadline.late.is_(True)),
            )
            .join(Case, Deadline.case_id == Case.id)
            .where(
                scope.case_filter(actor),
                _window(Case.received_at, starts),
                Deadline.status == MET,
                Deadline.task_id.is_(None),
            )
            .group_by(Deadline.rule)
        )
        with db.uow(readonly=True) as uow:
            found = {rule: (int(a), int(b)) for rule, a, b in uow.session.execute(query)}
        from workflows import get_workflow

        order = [rule.name for rule in get_workflow("case").deadlines]
        for rule in sorted(found, key=lambda r: order.index(r) if r in order else len(order)):
            on_time, late = found[rule]
            total = on_time + late
            rows.append(
                {
                    "rule": rule,
                    "on_time": on_time,
                    "late": late,
                    "percent": round(100 * on_time / total) if total else 0,
                }
            )
    return {"rows": rows}


class hours_between(FunctionElement[float]):
    """Hours from the first timestamp to the second, in SQL (each database its own way):
    the durations reach Python as plain numbers, already ordered."""

    type = sa.Float()
    inherit_cache = True
    name = "hours_between"


@compiles(hours_between)
def _hours_postgresql(element: hours_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 3600.0)"


@compiles(hours_between, "sqlite")
def _hours_sqlite(element: hours_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 24.0)"


def median_times(db: Database, actor: User, now: datetime | None = None) -> dict[str, Any]:
    """The median hours from receipt to the initial assessment and to the plan's approval
    of the cases received in each of the last twelve months (None for a month without
    one), and over the twelve months. Each is a met clock of `MEDIAN_RULES` (its anchor is
    the receipt, its `met_at` the step done).

    PostgreSQL takes the median itself (percentile_cont); SQLite has none, so there the
    durations of the window are fetched, bounded by the scope and the twelve months, and
    the middle taken in Python. A test holds both to the same numbers."""
    now = now or utcnow()
    starts = month_starts(now)
    durations: dict[str, list[list[float]]] = {
        rule: [[] for _ in range(MONTHS)] for rule in MEDIAN_RULES
    }
    if scope.supervises(actor):
        month = _bucket(Case.received_at, starts)
        hours = hours_between(Deadline.anchor_at, Deadline.met_at)
        where = (
            scope.case_filter(actor),
            _window(Case.received_at, starts),
            Deadline.status == MET,
            Deadline.task_id.is_(None),
            Deadline.rule.in_(MEDIAN_RULES),
            Deadline.met_at.is_not(None),
        )
        with db.uow(readonly=True) as uow:
            if uow.session.get_bind().dialect.name == "postgresql":
                # The database takes the middle itself: no duration leaves it.
                return _median_view(starts, *_medians_in_sql(uow.session, month, hours, where))
            query = sa.select(Deadline.rule, month, hours).join(Case, Deadline.case_id == Case.id)
            for rule, index, duration in uow.session.execute(query.where(*where)):
                durations[rule][index].append(float(duration))

    def middle(values: list[float]) -> float | None:
        return round(median(values), 1) if values else None

    return _median_view(
        starts,
        {rule: [middle(v) for v in durations[rule]] for rule in MEDIAN_RULES},
        {rule: middle([d for m in durations[rule] for d in m]) for rule in MEDIAN_RULES},
        {rule: sum(len(m) for m in durations[rule]) for rule in MEDIAN_RULES},
    )


def _medians_in_sql(
    session: Any, month: Any, hours: Any, where: tuple[Any, ...]
) -> tuple[dict[str, list[float | None]], dict[str, float | None], dict[str, int]]:
    """PostgreSQL's percentile_cont(0.5) — the same middle as statistics.median — by rule
    and month, then by rule over the twelve months."""
    middle = sa.func.percentile_cont(0.5).within_group(hours)
    base = sa.select(Deadline.rule).join(Case, Deadline.case_id == Case.id).where(*where)
    monthly: dict[str, list[float | None]] = {rule: [None] * MONTHS for rule in MEDIAN_RULES}
    for rule, index, value in session.execute(
        base.add_columns(month, middle).group_by(Deadline.rule, month)
    ):
        monthly[rule][index] = round(float(value), 1)
    overall: dict[str, float | None] = dict.fromkeys(MEDIAN_RULES)
    counts = dict.fromkeys(MEDIAN_RULES, 0)
    for rule, value, n in session.execute(
        base.add_columns(middle, sa.func.count()).group_by(Deadline.rule)
    ):
        overall[rule], counts[rule] = round(float(value), 1), int(n)
    return monthly, overall, counts


def _median_view(
    starts: list[datetime],
    monthly: dict[str, list[float | None]],
    overall: dict[str, float | None],
    counts: dict[str, int],
) -> dict[str, Any]:
    return {"months": _labels(starts), "monthly": monthly, "overall": overall, "counts": counts}


CHARTS = {"new_cases": new_cases, "deadlines_met": deadlines_met, "median_times": median_times}


def figures(db: Database, actor: User) -> dict[str, Any]:
    """The three charts' numbers for the actor's dashboard, and when they were counted.
    The charts count twelve months: figures a few minutes old tell the same story, and the
    page and its three images read them once, not four times. Kept STATS_SECONDS per scope (a commune's chairs share them, as a province's officers
    do), since what the charts count is the same for everyone in that scope."""

    def count() -> dict[str, Any]:
        now = utcnow()
        return {name: read(db, actor, now) for name, read in CHARTS.items()} | {"counted_at": now}

    key = ("charts", actor.role, actor.unit_id, actor.active)
    return db.stats_cache.get(key, count)  # type: ignore[no-any-return]
