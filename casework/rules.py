"""A province's deadline rules (the workflow's, with the province's overrides) and its
working calendar, cached per Database.

Both the clocks (casework/deadlines.py) and the notifications (casework/notify.py: who is
told of a rung) read them; keeping them here lets neither of those import the other.
"""

from __future__ import annotations

from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from casework.calendar import WorkingCalendar, load_calendar
from casework.db import Settings, TTLCache
from casework.models import DeadlineOverride
from workflows.engine import effective_rules, get_workflow
from workflows.spec import DeadlineRule


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


class Lookups(Protocol):
    """What the cached province settings are read through: a UnitOfWork or a CaseStore."""

    @property
    def session(self) -> Session: ...

    @property
    def cache(self) -> TTLCache: ...

    @property
    def settings(self) -> Settings: ...


def province_rules(uow: Lookups, workflow: str, province: str | None) -> tuple[DeadlineRule, ...]:
    return uow.cache.get(  # type: ignore[no-any-return]
        ("rules", workflow, province), lambda: rules_for(uow.session, workflow, province)
    )


def province_calendar(uow: Lookups, province: str | None) -> WorkingCalendar:
    settings = uow.settings
    return uow.cache.get(  # type: ignore[no-any-return]
        ("calendar", province),
        lambda: load_calendar(uow.session, province, settings.timezone, settings.office_close),
    )
