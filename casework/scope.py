"""The one place that turns an actor into query filters and permissions.

Lists, reads, events, exports and statistics all filter through here. A case outside the
actor's scope is reported as not found: its existence is itself personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from casework.errors import PermissionDenied
from casework.models import AdministrativeUnit, Agency, Case, PlanTask, Report, Role, User
from casework.models.cases import ACCESS_TASK_STATUSES
from workflows.case import INTAKE_STEPS
from workflows.spec import EventSpec

if TYPE_CHECKING:
    from casework.casestore import CaseRow


def _received_in(case_id: Any) -> sa.Select[Any]:
    """The province a case was received in: that of the incident commune of the report that
    opened it (its first report)."""
    return (
        sa.select(AdministrativeUnit.province_code)
        .join(Report, Report.incident_unit_id == AdministrativeUnit.id)
        .where(Report.case_id == case_id)
        .order_by(Report.id)
        .limit(1)
    )


def own_tasks(actor: User, task: Any = PlanTask) -> ColumnElement[bool]:
    """The tasks that give a partner agency access: its own, proposed, accepted or done."""
    return sa.and_(task.agency_id == actor.agency_id, task.status.in_(ACCESS_TASK_STATUSES))


def _referred(actor: User, case_id: Any, unit_id: Any) -> ColumnElement[bool]:
    """The agency holds a task on the case that gives access (proposed, accepted or done —
    not declined, superseded or cancelled), and the case is still where the agency works:
    at the agency's unit or a unit right under it (where services/cases.py `_agency_for`
    finds agencies). A move to another commune thus ends access for done tasks too."""
    agency_unit = sa.select(Agency.unit_id).where(Agency.id == actor.agency_id).scalar_subquery()
    here = sa.select(AdministrativeUnit.id).where(
        sa.or_(AdministrativeUnit.id == agency_unit, AdministrativeUnit.parent_id == agency_unit)
    )
    task = aliased(PlanTask)  # its own: the outer query may be over tasks (services/tasks.py)
    held = sa.exists().where(task.case_id == case_id, own_tasks(actor, task))
    unit = sa.literal(unit_id) if isinstance(unit_id, int) else unit_id
    return sa.and_(held, unit.in_(here))


def case_filter(actor: User) -> ColumnElement[bool]:
    """A WHERE clause selecting the cases `actor` may see."""
    if not actor.active:
        return sa.false()
    role = actor.role
    if role == Role.INTAKE:
        # The cases it recorded, while they stay in the province they were received in.
        received_in = _received_in(Case.id).correlate(Case).scalar_subquery()
        return sa.and_(Case.created_by_id == actor.id, Case.province_code == received_in)
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
        return _referred(actor, Case.id, Case.unit_id)
    return sa.false()  # administrators see no case content by default


def may_see(session: Callable[[], Session], actor: User, case: Case | CaseRow) -> bool:
    """`case_filter` for one case already read (the event path reads by id): the same rules,
    kept in step by tests/integration/test_scope.py. `session` is asked for only when a
    query is needed (partner agencies)."""
    if not actor.active:
        return False
    role = actor.role
    if role == Role.INTAKE:
        if case.created_by_id != actor.id:
            return False
        return session().scalar(_received_in(case.id)) == case.province_code
    if role in (Role.OFFICER, Role.CHAIR):
        return actor.unit_id is not None and case.unit_id == actor.unit_id
    if role == Role.PROVINCE:
        return actor.province_code is not None and case.province_code == actor.province_code
    if role == Role.AGENCY:
        if actor.agency_id is None:
            return False
        # The case's commune as this event read it.
        return bool(session().scalar(sa.select(_referred(actor, case.id, case.unit_id))))
    return False


def sees_identity(actor: User) -> bool:
    """Whether the actor's view of a case includes the child's identifying data in full."""
    return actor.role in (Role.INTAKE, Role.OFFICER, Role.CHAIR, Role.PROVINCE)


def sees_casework(actor: User) -> bool:
    """Whether the actor sees the work on a case: its assessments and risk level, its plan and
    every agency's task, its history and escalations. Intake staff see the report they
    recorded and where the case stands; a partner agency sees what its own task needs."""
    return actor.role in (Role.OFFICER, Role.CHAIR, Role.PROVINCE)


def sees_tasks(actor: User) -> bool:
    """Agency tasks: all of them for the commune and province, an agency's own (the case
    view narrows them), none for intake staff."""
    return actor.role != Role.INTAKE


def visible_steps(actor: User) -> tuple[str, ...] | None:
    """The steps whose clocks the actor sees (None: all). Intake staff follow a case's first
    steps only; an agency's view is narrowed to its tasks' clocks by its query."""
    return INTAKE_STEPS if actor.role == Role.INTAKE else None


def sees_deadline(actor: User, step: str) -> bool:
    steps = visible_steps(actor)
    return steps is None or step in steps


def check_may_fire(actor: User, event: EventSpec) -> None:
    if actor.role not in event.by:
        raise PermissionDenied(
            f"role {actor.role!r} may not fire {event.name!r} (allowed: {', '.join(event.by)})"
        )


def may_assign(actor: User) -> bool:
    return actor.role in (Role.CHAIR, Role.PROVINCE)


def may_record_reports(actor: User) -> bool:
    """Intake staff record reports; commune and province staff record walk-ins."""
    return actor.active and actor.role in (Role.INTAKE, Role.OFFICER, Role.CHAIR, Role.PROVINCE)


def may_decide_matches(actor: User) -> bool:
    """Whether a possible match on a report may be confirmed or rejected by the actor (on a
    case it may see): the commune and the province that hold the case."""
    return actor.active and actor.role in (Role.OFFICER, Role.CHAIR, Role.PROVINCE)


def must_use_two_factors(user: User) -> bool:
    """Administrators and province staff sign in with a second factor (TOTP); for the
    others it is their choice."""
    return user.role in (Role.ADMIN, Role.PROVINCE)


def may_administer(actor: User | None) -> bool:
    """Users, calendars, workflow settings, mail failures: administrators only."""
    return actor is not None and actor.active and actor.role == Role.ADMIN


def answers_tasks(actor: User) -> bool:
    """A partner agency's user: sees the tasks referred to its agency and answers them."""
    return actor.active and actor.role == Role.AGENCY and actor.agency_id is not None


def sees_own_tasks_only(actor: User) -> bool:
    """A partner agency sees, of a case's tasks and clocks, only its own."""
    return actor.role == Role.AGENCY


def sees_own_reports(actor: User) -> bool:
    """Intake staff see the reports they recorded on a case."""
    return actor.role == Role.INTAKE


def may_be_assigned(user: User, unit_id: int) -> bool:
    """Who may be responsible for a case: an active officer of the case's commune."""
    return user.active and user.role == Role.OFFICER and user.unit_id == unit_id


def supervises(actor: User) -> bool:
    """Who has the supervisor's overview: a commune's chair, a province's officer."""
    return actor.active and actor.role in (Role.CHAIR, Role.PROVINCE)


def supervises_province(actor: User) -> bool:
    """A province officer's overview is by commune (a chair's is by officer)."""
    return actor.role == Role.PROVINCE


def assignable(unit_id: int) -> ColumnElement[bool]:
    """may_be_assigned as a query's condition: the active officers of the commune."""
    return sa.and_(User.active.is_(True), User.role == Role.OFFICER, User.unit_id == unit_id)


def assigns_self_on_accept(actor: User) -> bool:
    """An officer who accepts a case without naming someone takes it."""
    return actor.role == Role.OFFICER


def work_sections(actor: User) -> tuple[str, ...]:
    """The sections of the actor's "my work": an officer's cases and the commune's cases
    waiting for someone; a chair's approvals and the commune's cases waiting for assignment."""
    if not actor.active or actor.unit_id is None:
        return ()
    if actor.role == Role.OFFICER:
        return ("assigned", "unassigned")
    if actor.role == Role.CHAIR:
        return ("approval", "unassigned")
    return ()


# --- the case page's notes and attachments, the list's filters, advice contacts -----------


def sees_case_files(actor: User) -> bool:
    """Notes and attachments (signed minutes, decisions) are part of the work on a case:
    those who see the casework read and add them (on a case in their scope)."""
    return actor.active and sees_casework(actor)


def may_search_contacts(actor: User) -> bool:
    """Advice-only contacts (no case) are found by intake staff and the province office."""
    return actor.active and actor.role in (Role.INTAKE, Role.PROVINCE)


def contact_filter(actor: User) -> ColumnElement[bool]:
    """The advice-only contacts the actor may find: intake staff those they recorded; the
    province office those about an incident in its province."""
    if not may_search_contacts(actor):
        return sa.false()
    if actor.role == Role.INTAKE:
        return Report.created_by_id == actor.id
    if actor.province_code is None:
        return sa.false()
    in_province = sa.select(AdministrativeUnit.id).where(
        AdministrativeUnit.province_code == actor.province_code
    )
    return Report.incident_unit_id.in_(in_province)


def assignee_filter(actor: User) -> ColumnElement[bool]:
    """The officers a case list may be filtered by: those who may hold the actor's cases
    (the commune's officers; the province's for the province office)."""
    if not actor.active or not sees_casework(actor):
        return sa.false()
    officers = sa.and_(User.role == Role.OFFICER)
    if actor.role == Role.PROVINCE:
        if actor.province_code is None:
            return sa.false()
        units = sa.select(AdministrativeUnit.id).where(
            AdministrativeUnit.province_code == actor.province_code
        )
        return sa.and_(officers, User.unit_id.in_(units))
    return sa.and_(officers, User.unit_id == actor.unit_id)


def filters_by_commune(actor: User) -> bool:
    """Province staff narrow their list to one commune of the province."""
    return actor.active and actor.role == Role.PROVINCE and actor.province_code is not None


def administered_province(actor: User) -> str | None:
    """An administrator attached to a province's unit runs that province only (its users,
    calendars, workflow settings, audit chain); one with no unit runs every province.
    None means every province; callers check may_administer first."""
    return actor.province_code if actor.unit_id is not None else None


def administers(actor: User | None, province_code: str | None) -> bool:
    """May this administrator change what belongs to this province (None: national things,
    such as the units tree, which only a national administrator changes)?"""
    if not may_administer(actor):
        return False
    assert actor is not None
    own = administered_province(actor)
    return own is None or (province_code is not None and own == province_code)


def administered_users(actor: User) -> ColumnElement[bool]:
    """The accounts an administrator manages, as a query's condition: all of them for a
    national administrator, those of the province's units for a province administrator."""
    if not may_administer(actor):
        return sa.false()
    own = administered_province(actor)
    if own is None:
        return sa.true()
    units = sa.select(AdministrativeUnit.id).where(AdministrativeUnit.province_code == own)
    return User.unit_id.in_(units)


def reads_access_log(actor: User, province_code: str | None) -> bool:
    """Who may see who read or changed a given child's record: the administrators of its
    province (the audit trail's keepers), never the case workers themselves."""
    return administers(actor, province_code)


def is_national_administrator(user: User) -> bool:
    """An active administrator with no unit: runs every province. The system must keep one
    (the last cannot be disabled, demoted or placed at a unit)."""
    return may_administer(user) and administered_province(user) is None


def national_administrators() -> ColumnElement[bool]:
    """`is_national_administrator` as a query's condition."""
    return sa.and_(User.role == Role.ADMIN, User.unit_id.is_(None), User.active.is_(True))


def refuses_grant(actor: User | None, role: str, province_code: str | None) -> str | None:
    """Why this administrator may not give an account `role` at a unit of `province_code`
    (None: no unit), naming the field at fault, or None when it may. A province
    administrator places accounts in its province only and never makes a national
    administrator; the command line (`actor` None) may do anything."""
    if actor is None or administers(actor, province_code):
        return None
    if role == Role.ADMIN and province_code is None:
        return "role"
    return "unit"
