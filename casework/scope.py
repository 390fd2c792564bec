"""The one place that turns an actor into query filters and permissions.

Lists, reads, events, exports and statistics all filter through here. A case outside the
actor's scope is reported as not found: its existence is itself personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from casework.errors import PermissionDenied
from casework.models import Case, PlanTask, Role, User
from workflows.spec import EventSpec

if TYPE_CHECKING:
    from casework.casestore import CaseRow


def case_filter(actor: User) -> ColumnElement[bool]:
    """A WHERE clause selecting the cases `actor` may see."""
    if not actor.active:
        return sa.false()
    role = actor.role
    if role == Role.INTAKE:
        return Case.created_by_id == actor.id
    if role in (Role.OFFICER, Role.CHAIR):
        if actor.unit_id is None:
            return sa.false()
        return Case.unit_id == actor.unit_id
    if role == Role.PROVINCE:
        if actor.province_code is None:
            return sa.false()
        return Case.province_code == actor.province_code
    if role == Role.AGENCY:
        if actor.agency_id is None:
            return sa.false()
        return Case.id.in_(sa.select(PlanTask.case_id).where(PlanTask.agency_id == actor.agency_id))
    return sa.false()  # administrators see no case content by default


def may_see(session: Callable[[], Session], actor: User, case: Case | CaseRow) -> bool:
    """`case_filter` for one case already read (the event path reads by id): the same rules,
    kept in step by tests/integration/test_scope.py. `session` is asked for only when a
    query is needed (partner agencies)."""
    if not actor.active:
        return False
    role = actor.role
    if role == Role.INTAKE:
        return case.created_by_id == actor.id
    if role in (Role.OFFICER, Role.CHAIR):
        return actor.unit_id is not None and case.unit_id == actor.unit_id
    if role == Role.PROVINCE:
        return actor.province_code is not None and case.province_code == actor.province_code
    if role == Role.AGENCY:
        if actor.agency_id is None:
            return False
        referred = sa.select(PlanTask.id).where(
            PlanTask.case_id == case.id, PlanTask.agency_id == actor.agency_id
        )
        return session().scalar(referred.limit(1)) is not None
    return False


def sees_identity(actor: User) -> bool:
    """Whether the actor's view of a case includes the child's identifying data in full."""
    return actor.role in (Role.INTAKE, Role.OFFICER, Role.CHAIR, Role.PROVINCE)


def sees_history(actor: User) -> bool:
    return actor.role != Role.AGENCY


def check_may_fire(actor: User, event: EventSpec) -> None:
    if actor.role not in event.by:
        raise PermissionDenied(
            f"role {actor.role!r} may not fire {event.name!r} (allowed: {', '.join(event.by)})"
        )


def may_assign(actor: User) -> bool:
    return actor.role in (Role.CHAIR, Role.PROVINCE)
