"""Statutory clocks: due times from a step's rule, started and met as a case moves, and the
sweep that fires each rung of their escalation ladders exactly once.

Deadlines are rows, not scheduler jobs: the scheduler only ticks `sweep`. A rung is claimed
by locking its deadline row (PostgreSQL: FOR UPDATE SKIP LOCKED, so sweepers never wait on
each other) or by a compare-and-set on `next_rung` (SQLite), and recorded in `fired_rungs`
under a unique (deadline, rung) key, together with its audit event and notifications, in one
transaction: a sweeper killed half-way leaves nothing, and the next sweep fires the rung.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from casework import audit
from casework.calendar import WorkingCalendar, load_calendar
from casework.db import Database, UnitOfWork
from casework.models import Case, Deadline, DeadlineOverride, DeadlineStatus, FiredRung, PlanTask
from workflows.engine import effective_rules, get_workflow
from workflows.spec import Anchor, DeadlineRule, DurationUnit

# --- rules and calendars of a province (cached per Database) ---------------------------------


def rules_for(
    session: Session, workflow: str, province_code: str | None
) -> tuple[DeadlineRule, ...]:
    """The workflow's deadline rules with the province's overrides applied."""
    overrides = []
    if province_code:
        overrides = [
            {
                "rule": row.rule,
                "duration": row.duration,
                "unit": row.unit,
                "high_risk_duration": row.high_risk_duration,
                "assignee_role": row.assignee_role,
                "legal_source": row.legal_source,
                "ladder": row.ladder,
            }
            for row in session.scalars(
                sa.select(DeadlineOverride).where(
                    DeadlineOverride.province_code == province_code,
                    DeadlineOverride.workflow == workflow,
                )
            )
        ]
    return effective_rules(get_workflow(workflow), overrides)


def province_rules(
    uow: UnitOfWork, workflow: str, province: str | None
) -> tuple[DeadlineRule, ...]:
    return uow.cache.get(  # type: ignore[no-any-return]
        ("rules", workflow, province), lambda: rules_for(uow.session, workflow, province)
    )


def province_calendar(uow: UnitOfWork, province: str | None) -> WorkingCalendar:
    settings = uow.settings
    return uow.cache.get(  # type: ignore[no-any-return]
        ("calendar", province),
        lambda: load_calendar(uow.session, province, settings.timezone, settings.office_close),
    )


# --- due times and rung times ---------------------------------------------------------------


def compute_due(
    rule: DeadlineRule, anchor_at: datetime, risk_level: str | None, calendar: WorkingCalendar
) -> datetime:
    amount = rule.duration_for(risk_level)
    return add_duration(anchor_at, amount, rule.unit, calendar)


def add_duration(
    start: datetime, amount: int, unit: DurationUnit | str, calendar: WorkingCalendar
) -> datetime:
    unit = DurationUnit(unit)
    if unit is DurationUnit.HOURS:
        return start + timedelta(hours=amount)
    if unit is DurationUnit.CALENDAR_DAYS:
        return start + timedelta(days=amount)
    return calendar.add_working_days(start, amount)


def rung_time(rung: dict[str, Any], deadline: Deadline, calendar: WorkingCalendar) -> datetime:
    """When a rung fires: a share of the time from anchor to due, or an offset after due."""
    if rung.get("at_fraction") is not None:
        return deadline.anchor_at + (deadline.due_at - deadline.anchor_at) * float(
            rung["at_fraction"]
        )
    return add_duration(deadline.due_at, int(rung["offset"]), rung["offset_unit"], calendar)


def _schedule(deadline: Deadline, calendar: WorkingCalendar) -> None:
    """Point `next_fire_at` at the next rung (None when the ladder is done)."""
    if deadline.status != DeadlineStatus.OPEN or deadline.next_rung >= len(deadline.ladder):
        deadline.next_fire_at = None
    else:
        deadline.next_fire_at = rung_time(deadline.ladder[deadline.next_rung], deadline, calendar)


def deadline_status(deadline: Deadline, now: datetime) -> str:
    """What a user sees: open, overdue, met, met_late or cancelled."""
    if deadline.status == DeadlineStatus.OPEN:
        return "overdue" if now > deadline.due_at else "open"
    if deadline.status == DeadlineStatus.MET:
        return "met_late" if deadline.late else "met"
    return str(deadline.status)


# --- opening, meeting, cancelling -----------------------------------------------------------


def open_deadline(
    session: Session,
    case: Case,
    rule: DeadlineRule,
    anchor_at: datetime,
    due_at: datetime,
    now: datetime,
    calendar: WorkingCalendar,
    task_id: int | None = None,
    duration: int | None = None,
) -> Deadline:
    deadline = Deadline(
        case_id=case.id,
        task_id=task_id,
        rule=rule.name,
        step=rule.step,
        cycle=case.cycle,
        anchor_at=anchor_at,
        due_at=due_at,
        duration=rule.duration_for(case.risk_level) if duration is None else duration,
        unit=str(rule.unit),
        legal_source=rule.legal_source,
        status=DeadlineStatus.OPEN,
        created_at=now,
        ladder=[rung.to_dict() for rung in rule.ladder],
        next_rung=0,
    )
    _schedule(deadline, calendar)
    session.add(deadline)
    return deadline


def meet(deadline: Deadline, now: datetime) -> None:
    """The step is done: late or on time, kept for statistics; the ladder stops."""
    deadline.status = DeadlineStatus.MET
    deadline.met_at = now
    deadline.late = now > deadline.due_at
    deadline.next_fire_at = None


def cancel(deadline: Deadline) -> None:
    deadline.status = DeadlineStatus.CANCELLED
    deadline.next_fire_at = None


def enter_state(
    uow: UnitOfWork,
    case: Case,
    new_state: str,
    now: datetime,
    final_states: Sequence[str] = ("closed",),
) -> dict[str, list[str]]:
    """`on_state_entered` with the province's rules and calendar."""
    return on_state_entered(
        uow.session,
        case,
        new_state,
        now,
        province_rules(uow, case.workflow, case.province_code),
        lambda: province_calendar(uow, case.province_code),
        final_states,
    )


def on_state_entered(
    session: Session,
    case: Case,
    new_state: str,
    now: datetime,
    rules: Sequence[DeadlineRule],
    calendar: Callable[[], WorkingCalendar],
    final_states: Sequence[str] = ("closed",),
) -> dict[str, list[str]]:
    """Meet, cancel and open the case's deadlines for its entry into `new_state`.

    A deadline is met when its step is left, and keeps its lateness; entering a final state
    cancels what is still open. Reassignment never comes through here, so it never resets a
    clock. Returns the rule names met, cancelled and opened (for the audit summary).
    """
    by_name = {rule.name: rule for rule in rules}
    changes: dict[str, list[str]] = {"met": [], "cancelled": [], "opened": []}
    with session.no_autoflush:  # the case's own changes are flushed once, later
        existing = list(session.scalars(sa.select(Deadline).where(Deadline.case_id == case.id)))
    for deadline in existing:
        if deadline.status != DeadlineStatus.OPEN:
            continue
        rule = by_name.get(deadline.rule)
        if rule is not None and new_state in rule.met_on:
            meet(deadline, now)
            changes["met"].append(deadline.rule)
        elif new_state in final_states:
            cancel(deadline)
            changes["cancelled"].append(deadline.rule)
    for rule in rules:
        if new_state not in rule.opens_on:
            continue
        if rule.anchor is Anchor.RECEIPT:
            if any(d.rule == rule.name and d.cycle == case.cycle for d in existing):
                continue
            anchor_at = case.clock_started_at
        else:
            if any(d.rule == rule.name and d.status == DeadlineStatus.OPEN for d in existing):
                continue
            anchor_at = now
        cal = calendar()
        existing.append(
            open_deadline(
                session,
                case,
                rule,
                anchor_at,
                compute_due(rule, anchor_at, case.risk_level, cal),
                now,
                cal,
            )
        )
        changes["opened"].append(rule.name)
    return changes


def open_task_clocks(uow: UnitOfWork, case: Case, task: PlanTask, now: datetime) -> None:
    """An agency task's clocks: the agency answers within its kind's response time, and
    completes by the task's date in the plan (office close)."""
    rules = {r.name: r for r in province_rules(uow, case.workflow, case.province_code)}
    calendar = province_calendar(uow, case.province_code)
    response = rules[f"task_response.{task.agency_kind}"]
    open_deadline(
        uow.session,
        case,
        response,
        now,
        compute_due(response, now, None, calendar),
        now,
        calendar,
        task_id=task.id,
    )
    completion = rules["task_completion"]
    due = end_of_office_day(task.due_date, calendar)
    open_deadline(
        uow.session,
        case,
        completion,
        now,
        max(due, now),
        now,
        calendar,
        task_id=task.id,
        duration=(task.due_date - now.astimezone(calendar.tz).date()).days,
    )


def end_of_office_day(day: date, calendar: WorkingCalendar) -> datetime:
    from datetime import UTC

    return datetime.combine(day, calendar.office_close, tzinfo=calendar.tz).astimezone(UTC)


# --- the sweep ------------------------------------------------------------------------------

#: Called after each rung is fired, inside the transaction (progress reports, fault tests).
RungHook = Callable[[FiredRung], None]


def due_deadlines_query(now: datetime, limit: int) -> sa.Select[Any]:
    """The due rungs, through the partial index on next_fire_at (never a scan of open
    deadlines)."""
    return (
        sa.select(Deadline)
        .where(Deadline.next_fire_at.is_not(None), Deadline.next_fire_at <= now)
        .order_by(Deadline.next_fire_at)
        .limit(limit)
    )


def sweep(
    db: Database,
    now: datetime,
    batch_size: int = 200,
    on_rung: RungHook | None = None,
    max_batches: int | None = None,
) -> dict[str, int]:
    """Fire every rung due at `now`, each exactly once; return counts per rung name and the
    number of notifications written."""
    from casework.notify import notify_rung

    counts: Counter[str] = Counter()
    batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        fired_in_batch = 0
        with db.uow() as uow:
            session = uow.session
            query = due_deadlines_query(now, batch_size)
            if uow.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            deadlines: list[Deadline] = list(session.scalars(query))
            if not deadlines:
                break
            # Written together at the end of the batch: people working in the same provinces
            # wait on their chain head only for the last moments of the batch.
            entries: list[audit.Entry] = []
            for deadline in deadlines:
                calendar = None
                while deadline.next_fire_at is not None and deadline.next_fire_at <= now:
                    index = deadline.next_rung
                    if uow.dialect != "postgresql" and not _claim(session, deadline, index):
                        break  # another sweeper took it (compare-and-set failed)
                    rung = deadline.ladder[index]
                    fired = FiredRung(
                        deadline_id=deadline.id,
                        rung_index=index,
                        rung=rung["name"],
                        case_id=deadline.case_id,
                        scheduled_at=deadline.next_fire_at,
                        fired_at=now,
                    )
                    session.add(fired)
                    session.flush()
                    case = session.get(Case, deadline.case_id)
                    assert case is not None
                    counts["notified"] += notify_rung(uow, case, deadline, fired, rung, now)
                    entries.append(
                        audit.Entry(
                            action=f"deadline.{rung['name']}",
                            actor=None,
                            province_code=case.province_code,
                            case_id=case.id,
                            summary={
                                "deadline_id": deadline.id,
                                "rule": deadline.rule,
                                "rung": index,
                                "due_at": deadline.due_at.isoformat(),
                                "scheduled_at": fired.scheduled_at.isoformat(),
                            },
                        )
                    )
                    counts[rung["name"]] += 1
                    fired_in_batch += 1
                    deadline.next_rung = index + 1
                    if calendar is None:
                        calendar = province_calendar(uow, case.province_code)
                    _schedule(deadline, calendar)
                    if on_rung is not None:
                        on_rung(fired)
            # In chain order: two sweepers whose batches span the same provinces take the
            # chain heads in the same order, so they cannot deadlock on them.
            for entry in sorted(entries, key=lambda e: audit.chain_for(e.province_code)):
                entry.write(session, uow.settings.audit_key, now)
            uow.commit()
        if fired_in_batch == 0 and uow.dialect != "postgresql":
            break
    return dict(counts)


def _claim(session: Session, deadline: Deadline, index: int) -> bool:
    """SQLite: compare-and-set on next_rung; only one sweeper moves a rung on."""
    claimed = session.execute(  # type: ignore[attr-defined]
        sa.update(Deadline)
        .where(
            Deadline.id == deadline.id,
            Deadline.next_rung == index,
            Deadline.status == DeadlineStatus.OPEN,
        )
        .values(next_rung=index + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(claimed)
