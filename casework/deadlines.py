"""Statutory clocks: due times from a step's rule, started and met as a case moves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from casework.calendar import WorkingCalendar, load_calendar
from casework.db import UnitOfWork
from casework.models import Case, Deadline, DeadlineOverride, DeadlineStatus
from workflows.engine import effective_rules, get_workflow
from workflows.spec import Anchor, DeadlineRule, DurationUnit


def compute_due(
    rule: DeadlineRule, anchor_at: datetime, risk_level: str | None, calendar: WorkingCalendar
) -> datetime:
    amount = rule.duration_for(risk_level)
    if rule.unit is DurationUnit.HOURS:
        return anchor_at + timedelta(hours=amount)
    if rule.unit is DurationUnit.CALENDAR_DAYS:
        return anchor_at + timedelta(days=amount)
    return calendar.add_working_days(anchor_at, amount)


def rules_for(session: Session, workflow: str, province_code: str | None) -> tuple[DeadlineRule, ...]:
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
            }
            for row in session.scalars(
                sa.select(DeadlineOverride).where(
                    DeadlineOverride.province_code == province_code,
                    DeadlineOverride.workflow == workflow,
                )
            )
        ]
    return effective_rules(get_workflow(workflow), overrides)


def deadline_status(deadline: Deadline, now: datetime) -> str:
    """What a user sees: open, overdue, met, met_late or cancelled."""
    if deadline.status == DeadlineStatus.OPEN:
        return "overdue" if now > deadline.due_at else "open"
    if deadline.status == DeadlineStatus.MET:
        return "met_late" if deadline.late else "met"
    return str(deadline.status)


def enter_state(
    uow: UnitOfWork, case: Case, new_state: str, now: datetime,
    final_states: Sequence[str] = ("closed",),
) -> dict[str, list[str]]:
    """`on_state_entered` with the province's rules and calendar (cached per Database)."""
    session, settings = uow.session, uow.settings
    province = case.province_code
    rules = uow.cache.get(("rules", case.workflow, province),
                          lambda: rules_for(session, case.workflow, province))
    return on_state_entered(
        session, case, new_state, now, rules,
        lambda: uow.cache.get(("calendar", province), lambda: load_calendar(
            session, province, settings.timezone, settings.office_close)),
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
            deadline.status = DeadlineStatus.MET
            deadline.met_at = now
            deadline.late = now > deadline.due_at
            changes["met"].append(deadline.rule)
        elif new_state in final_states:
            deadline.status = DeadlineStatus.CANCELLED
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
        deadline = Deadline(
            case_id=case.id,
            rule=rule.name,
            step=rule.step,
            cycle=case.cycle,
            anchor_at=anchor_at,
            due_at=compute_due(rule, anchor_at, case.risk_level, calendar()),
            duration=rule.duration_for(case.risk_level),
            unit=str(rule.unit),
            legal_source=rule.legal_source,
            status=DeadlineStatus.OPEN,
            created_at=now,
        )
        session.add(deadline)
        existing.append(deadline)
        changes["opened"].append(rule.name)
    return changes
