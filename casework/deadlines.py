"""Statutory clocks: due times from a step's rule, started and met as a case moves, and the
sweep that fires each rung of their escalation ladders exactly once.

Deadlines are rows, not scheduler jobs: the scheduler only ticks `sweep`. A rung is claimed
by locking its deadline row (PostgreSQL: FOR NO KEY UPDATE SKIP LOCKED, so sweepers never
wait on each other) or by a compare-and-set on `next_rung` (SQLite), and recorded in `fired_rungs`
under a unique (deadline, rung) key, together with its audit event and notifications, in one
transaction: a sweeper killed half-way leaves nothing, and the next sweep fires the rung.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from casework import audit
from casework.calendar import WorkingCalendar
from casework.casestore import CaseRow, Clock
from casework.db import Database
from casework.models import (
    Case,
    Deadline,
    DeadlineStatus,
    FiredRung,
    PlanTask,
)
from casework.models.cases import OPEN_TASK_STATUSES
from casework.notify import notify_rung
from casework.rules import province_calendar, province_rules
from workflows.spec import Anchor, DeadlineRule, DurationUnit

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


def rung_time(
    rung: dict[str, Any], deadline: Deadline | Clock, calendar: WorkingCalendar
) -> datetime:
    """When a rung fires: a share of the time from anchor to due, or an offset after due."""
    if rung.get("at_fraction") is not None:
        return deadline.anchor_at + (deadline.due_at - deadline.anchor_at) * float(
            rung["at_fraction"]
        )
    return add_duration(deadline.due_at, int(rung["offset"]), rung["offset_unit"], calendar)


def _schedule(deadline: Deadline | Clock, calendar: WorkingCalendar) -> None:
    """Point `next_fire_at` at the next rung (None when the ladder is done)."""
    if deadline.status != DeadlineStatus.OPEN or deadline.next_rung >= len(deadline.ladder):
        deadline.next_fire_at = None
    else:
        deadline.next_fire_at = rung_time(deadline.ladder[deadline.next_rung], deadline, calendar)


def deadline_status(deadline: Deadline | Clock, now: datetime) -> str:
    """What a user sees: open, overdue, met, met_late or cancelled."""
    if deadline.status == DeadlineStatus.OPEN:
        return "overdue" if now > deadline.due_at else "open"
    if deadline.status == DeadlineStatus.MET:
        return "met_late" if deadline.late else "met"
    return str(deadline.status)


# --- opening, meeting, cancelling (on plain clocks; casestore writes them) -----------------


def new_clock(
    case: CaseRow,
    rule: DeadlineRule,
    anchor_at: datetime,
    due_at: datetime,
    calendar: WorkingCalendar,
    duration: int | None = None,
    task_index: int | None = None,
) -> Clock:
    clock = Clock(
        rule=rule.name,
        step=rule.step,
        cycle=case.cycle,
        anchor_at=anchor_at,
        due_at=due_at,
        duration=rule.duration_for(case.risk_level) if duration is None else duration,
        unit=str(rule.unit),
        legal_source=rule.legal_source,
        status=DeadlineStatus.OPEN,
        late=False,
        ladder=[rung.to_dict() for rung in rule.ladder],
        next_rung=0,
        next_fire_at=None,
        task_index=task_index,
    )
    _schedule(clock, calendar)
    if clock.next_fire_at is not None:
        clock.next_rung_name = clock.ladder[0]["name"]
    return clock


def meet(deadline: Deadline | Clock, now: datetime) -> None:
    """The step is done: late or on time, kept for statistics; the ladder stops."""
    deadline.status = DeadlineStatus.MET
    deadline.met_at = now
    deadline.late = now > deadline.due_at
    deadline.next_fire_at = None


def cancel(deadline: Deadline | Clock) -> None:
    deadline.status = DeadlineStatus.CANCELLED
    deadline.next_fire_at = None


@dataclass
class ClockChanges:
    closed: list[Clock] = field(default_factory=list)
    opened: list[Clock] = field(default_factory=list)

    def summary(self) -> dict[str, list[str]]:
        """Rule names met, cancelled and opened (for the audit summary)."""
        return {
            "met": [c.rule for c in self.closed if c.status == DeadlineStatus.MET],
            "cancelled": [c.rule for c in self.closed if c.status == DeadlineStatus.CANCELLED],
            "opened": [c.rule for c in self.opened],
        }


def on_state_entered(
    case: CaseRow,
    new_state: str,
    now: datetime,
    rules: Sequence[DeadlineRule],
    calendar: Callable[[], WorkingCalendar],
    final_states: Sequence[str] = ("closed",),
) -> ClockChanges:
    """Meet, cancel and open the case's clocks for its entry into `new_state` (in
    `case.clocks`, and listed in the result for the write).

    A deadline is met when its step is done, and keeps its lateness; a clock whose step the
    case leaves otherwise (a transfer, a final state) is cancelled. A receipt clock opens
    once per cycle, again only if the one before was cancelled (its step is back: the time
    from receipt still counts). Reassignment never comes through here, so it never resets a
    clock.
    """
    by_name = {rule.name: rule for rule in rules}
    changes = ClockChanges()
    existing = case.clocks
    for clock in existing:
        if clock.status != DeadlineStatus.OPEN:
            continue
        rule = by_name.get(clock.rule)
        if rule is not None and new_state in rule.met_on:
            meet(clock, now)
            changes.closed.append(clock)
        elif new_state in final_states or (rule is not None and new_state not in rule.live_states):
            cancel(clock)
            changes.closed.append(clock)
    for rule in rules:
        if new_state not in rule.opens_on:
            continue
        if rule.anchor is Anchor.RECEIPT:
            if any(
                d.rule == rule.name
                and d.cycle == case.cycle
                and d.status != DeadlineStatus.CANCELLED
                for d in existing
            ):
                continue
            anchor_at = case.clock_started_at
        else:
            if any(d.rule == rule.name and d.status == DeadlineStatus.OPEN for d in existing):
                continue
            anchor_at = now
        cal = calendar()
        clock = new_clock(
            case, rule, anchor_at, compute_due(rule, anchor_at, case.risk_level, cal), cal
        )
        existing.append(clock)
        changes.opened.append(clock)
    return changes


def on_event(
    case: CaseRow,
    event: str,
    data: dict[str, Any],
    now: datetime,
    rules: Sequence[DeadlineRule],
    calendar: Callable[[], WorkingCalendar],
) -> ClockChanges:
    """Meet and open the clocks an event itself decides on, whatever the state (a temporary
    separation's end: decided, extended, ended). An event clock is due at office close of
    the date in the event's data; the clock it replaces is met — late if the decision came
    after its time — so lateness stays on record."""
    changes = ClockChanges()
    for rule in rules:
        if event in rule.met_by:
            for clock in case.clocks:
                if clock.rule == rule.name and clock.status == DeadlineStatus.OPEN:
                    meet(clock, now)
                    changes.closed.append(clock)
    for rule in rules:
        if event not in rule.opened_by or not data.get(rule.anchor_field):
            continue
        cal = calendar()
        day = date.fromisoformat(data[rule.anchor_field])
        clock = new_clock(
            case,
            rule,
            now,
            max(end_of_office_day(day, cal), now),
            cal,
            duration=(day - now.astimezone(cal.tz).date()).days,
        )
        case.clocks.append(clock)
        changes.opened.append(clock)
    return changes


def task_clocks(
    case: CaseRow,
    rules: Sequence[DeadlineRule],
    calendar: WorkingCalendar,
    agency_kind: str,
    due_date: date,
    now: datetime,
    task_index: int,
) -> list[Clock]:
    """An agency task's clocks: the agency answers within its kind's response time, and
    completes by the task's date in the plan (office close)."""
    by_name = {r.name: r for r in rules}
    response = by_name[f"task_response.{agency_kind}"]
    completion = by_name["task_completion"]
    due = end_of_office_day(due_date, calendar)
    return [
        new_clock(
            case,
            response,
            now,
            compute_due(response, now, None, calendar),
            calendar,
            task_index=task_index,
        ),
        new_clock(
            case,
            completion,
            now,
            max(due, now),
            calendar,
            duration=(due_date - now.astimezone(calendar.tz).date()).days,
            task_index=task_index,
        ),
    ]


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
    counts: Counter[str] = Counter()
    batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        fired_in_batch = 0
        with db.uow() as uow:
            session = uow.session
            query = due_deadlines_query(now, batch_size)
            if uow.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True, key_share=True)
            deadlines: list[Deadline] = list(session.scalars(query))
            if not deadlines:
                break
            # Written together at the end of the batch: people working in the same provinces
            # wait on their chain head only for the last moments of the batch.
            entries: list[audit.Entry] = []
            for deadline in deadlines:
                calendar = None
                stale = _stale(uow, deadline)
                if stale is not None:
                    if _withdraw(session, deadline, uow.dialect):
                        entries.append(stale)
                        counts["cancelled"] += 1
                        fired_in_batch += 1  # progress: the next batch moves on
                    continue
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
            # One append for the batch: the chain heads are locked in chain order, so two
            # sweepers whose batches span the same provinces cannot deadlock on them.
            session.flush()
            audit.append(
                session.connection(), uow.settings.audit_key, [e.values(now) for e in entries]
            )
            uow.commit()
        if fired_in_batch == 0 and uow.dialect != "postgresql":
            break
    return dict(counts)


def _stale(uow: Any, deadline: Deadline) -> audit.Entry | None:
    """Defence in depth: a clock fires only while its step is current (and, for a task's
    clock, while the task is open). Events stop such clocks themselves; one left open
    anyway (an older write, a hand edit) is cancelled here, audited, and fires nothing."""
    session = uow.session
    case = session.get(Case, deadline.case_id)
    assert case is not None
    # The rules the clock opened under (a later version of the settings changes no clock).
    rules = province_rules(uow, case.workflow, case.province_code, deadline.created_at)
    rule = {r.name: r for r in rules}.get(deadline.rule)
    reason = None
    if rule is not None and case.state not in rule.live_states:
        reason = "step_not_current"
    elif deadline.task_id is not None:
        task = session.get(PlanTask, deadline.task_id)
        if task is not None and task.status not in OPEN_TASK_STATUSES:
            reason = "task_not_open"
    if reason is None:
        return None
    return audit.Entry(
        action="deadline.cancelled",
        actor=None,
        province_code=case.province_code,
        case_id=case.id,
        summary={
            "deadline_id": deadline.id,
            "rule": deadline.rule,
            "step": deadline.step,
            "case_state": case.state,
            "reason": reason,
        },
    )


def _withdraw(session: Session, deadline: Deadline, dialect: str) -> bool:
    """Cancel a stale clock (PostgreSQL: its row is locked; SQLite: compare-and-set)."""
    if dialect != "postgresql":
        withdrawn = session.execute(  # type: ignore[attr-defined]
            sa.update(Deadline)
            .where(
                Deadline.id == deadline.id,
                Deadline.next_rung == deadline.next_rung,
                Deadline.status == DeadlineStatus.OPEN,
            )
            .values(status=DeadlineStatus.CANCELLED, next_fire_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not withdrawn:
            return False
    cancel(deadline)
    return True


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
