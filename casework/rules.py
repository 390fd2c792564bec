"""A province's deadline rules (the workflow's, with the province's settings in force at a
moment) and its working calendar, cached per Database.

Both the clocks (casework/deadlines.py) and the notifications (casework/notify.py: who is
told of a rung) read them; keeping them here lets neither of those import the other.

A province's settings are versions (`RuleVersion`): the rule in force at a moment is, per
rule, the newest version whose effective moment is at or before it (a withdrawal is the
national default). A clock takes the rules in force when it opens, and copies what it needs
onto its row, so that a later version never changes a running clock. The cache holds the
province's whole version list, never "the rules of now", so that a version scheduled for
tomorrow takes effect at its moment without waiting for the cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from casework.calendar import WorkingCalendar, load_calendar
from casework.db import Settings, TTLCache
from casework.models import RuleVersion
from workflows.engine import effective_rules, get_workflow
from workflows.spec import DeadlineRule

#: The values a version may set on a rule (None: the national default's).
OVERRIDABLE = ("duration", "unit", "high_risk_duration", "assignee_role", "ladder", "legal_source")


@dataclass(frozen=True)
class Version:
    """One version of a province's setting for a rule, as the clocks need it."""

    id: int
    rule: str
    version: int
    withdrawn: bool
    effective_at: datetime
    values: Mapping[str, Any] = field(default_factory=dict)

    def override(self) -> dict[str, Any]:
        return {"rule": self.rule, **self.values}


def load_versions(
    session: Session, workflow: str, province_code: str | None
) -> tuple[Version, ...]:
    """Every version of the province's settings for the workflow, by rule and number."""
    if not province_code:
        return ()
    rows = session.scalars(
        sa.select(RuleVersion)
        .where(RuleVersion.province_code == province_code, RuleVersion.workflow == workflow)
        .order_by(RuleVersion.rule, RuleVersion.version)
    )
    return tuple(
        Version(
            id=row.id,
            rule=row.rule,
            version=row.version,
            withdrawn=row.withdrawn,
            effective_at=row.effective_at,
            values={name: getattr(row, name) for name in OVERRIDABLE},
        )
        for row in rows
    )


def in_force(versions: Iterable[Version], at: datetime) -> dict[str, Version]:
    """Per rule, the newest version whose effective moment is at or before `at`."""
    chosen: dict[str, Version] = {}
    for version in versions:
        if version.effective_at <= at:
            held = chosen.get(version.rule)
            if held is None or version.version > held.version:
                chosen[version.rule] = version
    return chosen


def _apply(workflow: str, chosen: Mapping[str, Version]) -> tuple[DeadlineRule, ...]:
    overrides = [v.override() for v in chosen.values() if not v.withdrawn]
    return effective_rules(get_workflow(workflow), overrides)


def rules_for(
    session: Session, workflow: str, province_code: str | None, at: datetime
) -> tuple[DeadlineRule, ...]:
    """The workflow's deadline rules with the province's settings in force at `at`."""
    return _apply(workflow, in_force(load_versions(session, workflow, province_code), at))


class Lookups(Protocol):
    """What the cached province settings are read through: a UnitOfWork or a CaseStore."""

    @property
    def session(self) -> Session: ...

    @property
    def cache(self) -> TTLCache: ...

    @property
    def settings(self) -> Settings: ...


def province_rules(
    uow: Lookups, workflow: str, province: str | None, at: datetime
) -> tuple[DeadlineRule, ...]:
    """`rules_for`, cached: the version list per province (briefly, like any setting), and
    the rules per set of versions in force (for good: versions never change)."""
    versions: tuple[Version, ...] = uow.cache.get(
        ("rule_versions", workflow, province),
        lambda: load_versions(uow.session, workflow, province),
    )
    chosen = in_force(versions, at)
    key = ("rules", workflow, tuple(sorted(v.id for v in chosen.values())))
    return uow.cache.get(key, lambda: _apply(workflow, chosen))  # type: ignore[no-any-return]


def province_calendar(uow: Lookups, province: str | None) -> WorkingCalendar:
    settings = uow.settings
    return uow.cache.get(  # type: ignore[no-any-return]
        ("calendar", province),
        lambda: load_calendar(uow.session, province, settings.timezone, settings.office_close),
    )
