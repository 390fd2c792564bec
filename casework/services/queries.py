"""What pages and the API read: case views, case lists, task lists, the inbox and its
unread count, mail failures. Commands live apart (cases.py: fire an event, assign;
tasks.py: answer a task; intake.py; notifications.py: mark read); they may build their
answers with what is here, never the other way round. Every read filters through scope.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from casework import audit, notify, scope
from casework.casestore import CaseRow, CaseStore, Clock, TaskRow
from casework.clock import utcnow
from casework.db import Database, UnitOfWork
from casework.deadlines import deadline_status
from casework.errors import NotFound
from casework.models import (
    AdministrativeUnit,
    Agency,
    Case,
    CaseTransition,
    Child,
    Deadline,
    FiredRung,
    MailStatus,
    Notification,
    PlanTask,
    PlanTaskStatus,
    Report,
    TaskUpdate,
    User,
)
from casework.scope import answers_tasks as answers_tasks  # pages ask them; scope.py decides
from casework.scope import may_administer as may_administer
from casework.scope import may_assign as may_assign
from casework.scope import may_search_contacts as may_search_contacts
from casework.scope import sees_casework as sees_casework
from casework.scope import work_sections as work_sections
from workflows.engine import get_workflow, offered_events
from workflows.spec import CaseSnapshot

# --- cases -----------------------------------------------------------------------------------


def load_case(session: Session, actor: User, case_id: int, for_update: bool = False) -> Case:
    """The case if `actor` may see it; out of scope looks exactly like not found."""
    statement = sa.select(Case).where(Case.id == case_id, scope.case_filter(actor))
    if for_update:
        statement = statement.with_for_update(of=Case, key_share=True)
    case = session.scalars(statement).first()
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def _username(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user.username if user else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _deadline_json(d: Deadline | Clock, now: datetime) -> dict[str, Any]:
    return {
        "rule": d.rule,
        "step": d.step,
        "cycle": d.cycle,
        "due_at": _iso(d.due_at),
        "status": deadline_status(d, now),
        "met_at": _iso(d.met_at),
        "legal_source": d.legal_source,
        "task_id": d.task_id,
        "next_rung": _next_rung_name(d),
        "next_rung_at": _iso(d.next_fire_at),
    }


def _next_rung_name(d: Deadline | Clock) -> str | None:
    if isinstance(d, Clock):
        return d.next_rung_name if d.next_fire_at else None
    return str(d.ladder[d.next_rung]["name"]) if d.next_fire_at else None


def _task_json(t: PlanTask | TaskRow) -> dict[str, Any]:
    return {
        "id": t.id,
        "agency_kind": t.agency_kind,
        "action": t.action,
        "due_date": t.due_date.isoformat(),
        "status": t.status,
    }


def case_view(
    session: Session, case: Case, actor: User, now: datetime, full: bool = True
) -> dict[str, Any]:
    """What `actor` may see of a case, as plain data (the API's JSON).

    `full=False` (the answer to an event) leaves out the child and the history: the caller
    already has them, and a read of the child's identity must be an audited read.
    """
    unit = session.get(AdministrativeUnit, case.unit_id)
    deadlines_query = sa.select(Deadline).where(Deadline.case_id == case.id)
    tasks_query = sa.select(PlanTask).where(PlanTask.case_id == case.id).order_by(PlanTask.id)
    if scope.sees_own_tasks_only(actor):
        # A partner agency sees its own tasks (those that give it access) and their clocks,
        # nothing else of the case.
        tasks_query = tasks_query.where(scope.own_tasks(actor))
        deadlines_query = deadlines_query.where(
            Deadline.task_id.in_(tasks_query.with_only_columns(PlanTask.id).order_by(None))
        )
    deadlines = list(session.scalars(deadlines_query.order_by(Deadline.id)))
    # Tasks exist only once a plan was approved: no query before that.
    approved = "approved_at" in case.facts.get("plan", {}) and scope.sees_tasks(actor)
    view = _lean_view(
        case,
        (unit.code, unit.name) if unit else (None, None),
        _username(session, case.assignee_id),
        deadlines,
        session.scalars(tasks_query) if approved else (),
        actor,
        now,
    )
    if not full:
        return view
    child = session.get(Child, case.child_id)
    assert child is not None
    if scope.sees_identity(actor):
        view["child"] = {
            "full_name": child.full_name,
            "sex": child.sex,
            "birth_date": child.birth_date.isoformat() if child.birth_date else None,
            "age_years": child.age_on(now.date()),
            "address": child.address,
        }
    else:  # partner agencies: only what they need to act on their task (and to find the child)
        view["child"] = {
            "full_name": child.full_name,
            "sex": child.sex,
            "age_years": child.age_on(now.date()),
            "address": child.address,
        }
    if scope.sees_own_reports(actor):
        view["reports"] = _reports_by(session, case, actor)
    if scope.sees_casework(actor):
        view["facts"] = case.facts
        view["history"] = [
            {
                "seq": t.seq,
                "event": t.event,
                "from": t.from_state,
                "to": t.to_state,
                "actor": username or "system",
                "at": _iso(t.occurred_at),
                "reason": t.reason,
            }
            for t, username in session.execute(
                sa.select(CaseTransition, User.username)
                .outerjoin(User, CaseTransition.actor_id == User.id)
                .where(CaseTransition.case_id == case.id)
                .order_by(CaseTransition.seq)
            )
        ]
        by_id = {d.id: d for d in deadlines}
        view["escalations"] = [
            {
                "rung": f.rung,
                "rule": by_id[f.deadline_id].rule,
                "step": by_id[f.deadline_id].step,
                "task_id": by_id[f.deadline_id].task_id,
                "at": _iso(f.fired_at),
                "scheduled_at": _iso(f.scheduled_at),
            }
            for f in session.scalars(
                sa.select(FiredRung).where(FiredRung.case_id == case.id).order_by(FiredRung.id)
            )
        ]
    return view


def _reports_by(session: Session, case: Case, actor: User) -> list[dict[str, Any]]:
    """The reports on the case that `actor` recorded (what intake staff see of a case)."""
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "channel": r.channel,
            "received_at": _iso(r.received_at),
            "reporter": r.reporter,
            "abuse_types": r.abuse_types,
            "online": r.online,
            "environment": r.environment,
            "description": r.description,
        }
        for r in session.scalars(
            sa.select(Report)
            .where(Report.case_id == case.id, Report.created_by_id == actor.id)
            .order_by(Report.id)
        )
    ]


def get_case(
    db: Database, actor: User, case_id: int, now: datetime | None = None
) -> dict[str, Any]:
    """Read one case. The read of the child's data is itself an audit event."""
    now = now or utcnow()
    with db.uow() as uow:
        case = load_case(uow.session, actor, case_id)
        view = case_view(uow.session, case, actor, now)
        _record_read(uow, actor, case, now, {"view": _read_view(actor)})
        uow.commit()
    return view


def _read_view(actor: User) -> str:
    return "full" if scope.sees_identity(actor) else "referred"


def _record_read(
    uow: UnitOfWork, actor: User, case: Case, now: datetime, summary: dict[str, Any]
) -> None:
    """Every read of a child's record is an audit event on the case's province chain; the
    summary says which view was read (never what it showed)."""
    audit.record(
        uow.session,
        uow.settings.audit_key,
        actor=actor,
        action="case.read",
        now=now,
        province_code=case.province_code,
        case_id=case.id,
        summary=summary,
    )


def list_cases(
    db: Database,
    actor: User,
    state: str | None = None,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Cases in the actor's scope, newest first, without the child's identity."""
    now = now or utcnow()
    with db.uow(readonly=True) as uow:
        statement = _case_rows_query(actor)
        if state:
            statement = statement.where(Case.state == state)
        statement = statement.order_by(Case.received_at.desc(), Case.id.desc())
        return _case_rows(uow.session, actor, statement.limit(limit).offset(offset), now)


def _case_rows_query(actor: User) -> Any:
    return (
        sa.select(Case, sa.func.coalesce(sa.func.nullif(User.full_name, ""), User.username))
        .outerjoin(User, Case.assignee_id == User.id)
        .where(scope.case_filter(actor))
    )


def _case_rows(
    session: Session, actor: User, statement: Any, now: datetime
) -> list[dict[str, Any]]:
    """Cases as a list shows them, each with its next due time among the clocks the actor
    sees (overdue when past)."""
    rows = session.execute(statement).all()
    due_query = sa.select(Deadline.case_id, sa.func.min(Deadline.due_at)).where(
        Deadline.case_id.in_([c.id for c, _ in rows]), Deadline.status == "open"
    )
    steps = scope.visible_steps(actor)
    if steps is not None:
        due_query = due_query.where(Deadline.step.in_(steps))
    if scope.sees_own_tasks_only(actor):  # an agency: the clocks of its own tasks only
        due_query = due_query.where(
            Deadline.task_id.in_(sa.select(PlanTask.id).where(scope.own_tasks(actor)))
        )
    next_due = {
        case_id: due for case_id, due in session.execute(due_query.group_by(Deadline.case_id))
    }
    casework = scope.sees_casework(actor)
    unit_ids = {c.unit_id for c, _ in rows}
    communes: dict[int, str] = {}
    if unit_ids:
        communes = {
            unit_id: name
            for unit_id, name in session.execute(
                sa.select(AdministrativeUnit.id, AdministrativeUnit.name).where(
                    AdministrativeUnit.id.in_(unit_ids)
                )
            )
        }
    return [
        {
            "id": c.id,
            "unit_name": communes.get(c.unit_id),
            "reference": c.reference,
            "state": c.state,
            "risk_level": c.risk_level if casework else None,
            "received_at": _iso(c.received_at),
            "next_due_at": _iso(next_due.get(c.id)),
            "overdue": bool(next_due.get(c.id) and next_due[c.id] < now),
            "assignee": assignee,
            "version": c.version,  # a bulk reassignment refuses a case changed since
        }
        for c, assignee in rows
    ]


#: How many cases a section of "my work" shows at most (the nearest deadlines first).
WORK_SECTION_SIZE = 100


def my_work(db: Database, actor: User, now: datetime | None = None) -> dict[str, Any]:
    """What needs the actor now, by section (scope.py says which the actor has): cases
    assigned to the actor, waiting in the commune for assignment, waiting for the actor's
    approval — each sorted by its nearest deadline, the most urgent first."""
    now = now or utcnow()
    sections = scope.work_sections(actor)
    conditions = {
        "assigned": sa.and_(Case.assignee_id == actor.id, Case.state != "closed"),
        "unassigned": sa.and_(Case.assignee_id.is_(None), Case.state != "closed"),
        "approval": Case.state == "plan_approval",
    }
    # The nearest open clock the actor sees, in the query: a section longer than it shows
    # shows its most urgent cases, not any of them.
    nearest = sa.select(sa.func.min(Deadline.due_at)).where(
        Deadline.case_id == Case.id, Deadline.status == "open"
    )
    steps = scope.visible_steps(actor)
    if steps is not None:
        nearest = nearest.where(Deadline.step.in_(steps))
    due = nearest.scalar_subquery()
    work: dict[str, Any] = {}
    with db.uow(readonly=True) as uow:
        for section in sections:
            statement = (
                _case_rows_query(actor)
                .where(conditions[section])
                .order_by(due.asc().nulls_last(), Case.id)
                .limit(WORK_SECTION_SIZE)
            )
            rows = _case_rows(uow.session, actor, statement, now)
            rows.sort(key=lambda r: (r["next_due_at"] is None, r["next_due_at"] or ""))
            work[section] = rows
    return work


def _username_of(store: CaseStore, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return store.cache.get(  # type: ignore[no-any-return]
        ("username", user_id), lambda: _username(store.session, user_id)
    )


def _unit_of(store: CaseStore, unit_id: int) -> tuple[str, str]:
    def load() -> tuple[str, str]:
        unit = store.session.get(AdministrativeUnit, unit_id)
        assert unit is not None
        return unit.code, unit.name

    return store.cache.get(("unit", unit_id), load)  # type: ignore[no-any-return]


def event_view(store: CaseStore, case: CaseRow, actor: User, now: datetime) -> dict[str, Any]:
    """The answer to an event, from what the event already holds (no re-read): the case
    without the child and the history (`case_view(full=False)` for a stored case)."""
    return _lean_view(
        case,
        _unit_of(store, case.unit_id),
        _username_of(store, case.assignee_id),
        case.clocks,
        case.tasks,
        actor,
        now,
    )


def _lean_view(
    case: Case | CaseRow,
    unit: tuple[str | None, str | None],
    assignee: str | None,
    deadlines: Iterable[Deadline | Clock],
    tasks: Iterable[PlanTask | TaskRow],
    actor: User,
    now: datetime,
) -> dict[str, Any]:
    """The case as every answer shows it, whether read through the ORM or the case store,
    cut to what `actor` may see (scope.py): intake staff follow the first steps only, and
    neither they nor agencies see the risk level or other agencies' tasks."""
    deadlines = [d for d in deadlines if scope.sees_deadline(actor, d.step)]
    view = {
        "id": case.id,
        "reference": case.reference,
        "workflow": case.workflow,
        "state": case.state,
        "version": case.version,
        "unit_code": unit[0],
        "unit_name": unit[1],
        "province_code": case.province_code,
        "risk_level": case.risk_level,
        # Derived, never stored: a case is overdue while one of its clocks is open past due.
        "overdue": any(deadline_status(d, now) == "overdue" for d in deadlines),
        "assignee": assignee,
        "received_at": _iso(case.received_at),
        "state_entered_at": _iso(case.state_entered_at),
        "deadlines": [_deadline_json(d, now) for d in deadlines],
        "tasks": [_task_json(t) for t in tasks] if scope.sees_tasks(actor) else [],
        "available_events": offered_events(
            get_workflow(case.workflow),
            CaseSnapshot(state=case.state, risk_level=case.risk_level, facts=case.facts),
            actor.role,
        ),
    }
    if not scope.sees_casework(actor):
        del view["risk_level"]
    return view


# --- agencies' tasks -----------------------------------------------------------------------

#: The statuses a task list may be filtered by.
TASK_STATUSES: tuple[str, ...] = tuple(str(status) for status in PlanTaskStatus)


def task_view(task: PlanTask, case: Case) -> dict[str, Any]:
    return {
        "id": task.id,
        "case_id": case.id,
        "case_reference": case.reference,
        "case_closed": case.state == "closed",
        "agency_kind": task.agency_kind,
        "action": task.action,
        "due_date": task.due_date.isoformat(),
        "status": task.status,
        "note": task.note,
    }


def field_options(
    db: Database, actor: User, case_id: int, names: Iterable[str]
) -> dict[str, list[tuple[str, str]]]:
    """The values a case's form offers for fields whose list depends on the case
    (FieldType.options), as (value, name) pairs: "commune_officers" — the officers who may
    be responsible for it; "communes" — the other communes of its province. NotFound for a
    case out of the actor's scope."""
    wanted = set(names)
    options: dict[str, list[tuple[str, str]]] = {}
    if not wanted:
        return options
    with db.uow(readonly=True) as uow:
        session = uow.session
        case = load_case(session, actor, case_id)
        if "commune_officers" in wanted:
            officers = session.execute(
                sa.select(User.username, User.full_name)
                .where(scope.assignable(case.unit_id))
                .order_by(User.full_name, User.username)
            )
            options["commune_officers"] = [
                (username, f"{full_name} ({username})" if full_name else username)
                for username, full_name in officers
            ]
        if "communes" in wanted:
            commune = session.get(AdministrativeUnit, case.unit_id)
            parent = commune.parent_id if commune else None
            communes = session.execute(
                sa.select(AdministrativeUnit.code, AdministrativeUnit.name)
                .where(
                    AdministrativeUnit.parent_id == parent,
                    AdministrativeUnit.id != case.unit_id,
                )
                .order_by(AdministrativeUnit.name)
            )
            options["communes"] = [(code, name) for code, name in communes]
    return options


def task_page(
    db: Database, actor: User, task_id: int, now: datetime | None = None
) -> dict[str, Any]:
    """One task as its agency reads it: what is asked and by when, the child's data the task
    needs (name, sex, age, where the child lives), whom to call at the commune, and the
    answers given so far — no history of the case, no other agency's task. The read of the
    child's data is audited like a case read. NotFound for a task the actor may not see."""
    now = now or utcnow()
    with db.uow() as uow:
        session = uow.session
        found = session.execute(
            sa.select(PlanTask, Case)
            .join(Case, PlanTask.case_id == Case.id)
            .where(PlanTask.id == task_id, tasks_visible_to(actor))
        ).first()
        if found is None:
            raise NotFound(f"task {task_id} not found")
        task, case = found
        child = session.get(Child, case.child_id)
        assert child is not None
        residence = session.get(AdministrativeUnit, child.residence_unit_id or case.unit_id)
        commune = session.get(AdministrativeUnit, case.unit_id)
        officer = session.get(User, case.assignee_id) if case.assignee_id else None
        updates = session.execute(
            sa.select(TaskUpdate, User.username)
            .outerjoin(User, TaskUpdate.actor_id == User.id)
            .where(TaskUpdate.task_id == task.id)
            .order_by(TaskUpdate.id)
        )
        view = task_view(task, case) | {
            "child": {
                "full_name": child.full_name,
                "sex": child.sex,
                "age_years": child.age_on(now.date()),
                "address": child.address,
                "residence": residence.name if residence else None,
            },
            "commune": commune.name if commune else None,
            "officer": (officer.full_name or officer.username) if officer else None,
            "updates": [
                {"action": u.action, "note": u.note, "at": _iso(u.at), "actor": name}
                for u, name in updates
            ],
        }
        _record_read(uow, actor, case, now, {"view": "task", "task_id": task.id})
        uow.commit()
    return view


def tasks_visible_to(actor: User) -> ColumnElement[bool]:
    """The tasks an agency sees: its own that give it access to a case it may still see
    (scope.py); a declined, superseded or cancelled task is gone from its view."""
    return sa.and_(scope.own_tasks(actor), scope.case_filter(actor))


def list_tasks(db: Database, actor: User, status: str | None = None) -> list[dict[str, Any]]:
    """The tasks referred to the actor's agency."""
    if not scope.answers_tasks(actor):
        return []
    with db.uow(readonly=True) as uow:
        statement = (
            sa.select(PlanTask, Case)
            .join(Case, PlanTask.case_id == Case.id)
            .where(tasks_visible_to(actor))
            .order_by(PlanTask.due_date)
        )
        if status:
            statement = statement.where(PlanTask.status == status)
        return [task_view(task, case) for task, case in uow.session.execute(statement)]


# --- the inbox -----------------------------------------------------------------------------


def inbox(
    db: Database, user: User, unread_only: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    with db.uow(readonly=True) as uow:
        statement = sa.select(Notification).where(Notification.user_id == user.id)
        if unread_only:
            statement = statement.where(Notification.read_at.is_(None))
        rows = uow.session.scalars(statement.order_by(Notification.id.desc()).limit(limit))
        return [
            {
                "id": n.id,
                "kind": n.kind,
                "subject": n.subject,
                "body": n.body,
                "case_id": n.case_id,
                "created_at": n.created_at.isoformat(),
                "read": n.read_at is not None,
            }
            for n in rows
        ]


#: Cases per page of the inbox (each with all its notices to the reader).
INBOX_CASES_PER_PAGE = 10


def inbox_page(
    db: Database,
    user: User,
    lang: str,
    before: int | None = None,
    per_page: int = INBOX_CASES_PER_PAGE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The reader's inbox, one block per case, newest first, `per_page` cases a page
    (keyset: `before` is the `next` of the page before). A deadline's reminder, overdue
    and escalation are one item — its latest state — with the clock's due time; every
    text is rendered in `lang`, the reader's language now (the stored text, written in
    the language of the day it was sent, only where a notice cannot be rendered anew)."""
    now = now or utcnow()
    with db.uow(readonly=True) as uow:
        session = uow.session
        latest = sa.func.max(Notification.id)
        groups_query = (
            sa.select(Notification.case_id, latest)
            .where(Notification.user_id == user.id)
            .group_by(Notification.case_id)
            .order_by(latest.desc())
            .limit(per_page + 1)
        )
        if before is not None:
            groups_query = groups_query.having(latest < before)
        groups = [(case_id, top) for case_id, top in session.execute(groups_query)]
        more = len(groups) > per_page
        groups = groups[:per_page]
        case_ids = [case_id for case_id, _top in groups if case_id is not None]
        in_groups: ColumnElement[bool] = Notification.case_id.in_(case_ids)
        if any(case_id is None for case_id, _top in groups):
            in_groups = sa.or_(in_groups, Notification.case_id.is_(None))
        rows = session.execute(
            sa.select(Notification, Case.reference, FiredRung.rung, Deadline, PlanTask.agency_kind)
            .outerjoin(Case, Case.id == Notification.case_id)
            .outerjoin(FiredRung, FiredRung.id == Notification.fired_rung_id)
            .outerjoin(Deadline, Deadline.id == FiredRung.deadline_id)
            .outerjoin(PlanTask, PlanTask.id == Deadline.task_id)
            .where(Notification.user_id == user.id, in_groups)
            .order_by(Notification.id)
        ).all()
        own_kind, referred = _agency_context(session, user, case_ids)
    items: dict[Any, dict[str, Any]] = {}
    for note, reference, rung, deadline, task_kind in rows:
        key = ("deadline", deadline.id) if deadline is not None else ("notice", note.id)
        agency_kind = task_kind or (own_kind if note.kind.startswith("task.") else None)
        texts = notify.reread(
            lang,
            note.kind,
            reference or "",
            step=deadline.step if deadline is not None else None,
            rule=deadline.rule if deadline is not None else None,
            due=deadline.due_at if deadline is not None else None,
            agency_kind=agency_kind,
        )
        subject, body = texts or (note.subject, note.body)
        subject = subject.removeprefix(f"[{reference}] ")  # the block names the case
        item = items.setdefault(key, {"ids": [], "rungs": [], "read": True})
        item["ids"].append(note.id)
        item["read"] = item["read"] and note.read_at is not None
        if rung:
            item["rungs"].append({"rung": rung, "at": note.created_at.isoformat()})
        item.update(
            id=note.id,  # the latest: the item shows where the deadline stands now
            case_id=note.case_id,
            kind=note.kind,
            subject=subject,
            body=body,
            created_at=note.created_at.isoformat(),
            opens_case=note.kind != "task.cancelled",  # the agency no longer sees the case
        )
        if deadline is not None:
            item["due_at"] = deadline.due_at.isoformat()
            item["due_status"] = deadline_status(deadline, now)
        elif note.kind == "task.referred" and (note.case_id, note.created_at) in referred:
            due_date, status = referred[(note.case_id, note.created_at)]
            item["due_date"] = due_date.isoformat()
            item["task_status"] = status
    blocks: dict[Any, dict[str, Any]] = {
        case_id: {"case_id": case_id, "reference": None, "items": [], "unread": 0, "latest": top}
        for case_id, top in groups
    }
    references = {note.case_id: reference for note, reference, *_rest in rows}
    for item in sorted(items.values(), key=lambda i: i["id"], reverse=True):
        block = blocks[item["case_id"]]
        block["reference"] = references.get(item["case_id"])
        block["items"].append(item)
        block["unread"] += 0 if item["read"] else 1
    return {
        "groups": list(blocks.values()),
        "next": groups[-1][1] if more and groups else None,
    }


def _agency_context(
    session: Session, user: User, case_ids: list[int]
) -> tuple[str | None, dict[tuple[int, datetime], tuple[Any, str]]]:
    """For an agency's reader: its kind (the kind of every task it is given) and, per case
    and time, the due date and status of the tasks an approval gave it (a task.referred
    notice is written at its task's creation time)."""
    if user.agency_id is None:
        return None, {}
    kind = session.scalar(sa.select(Agency.kind).where(Agency.id == user.agency_id))
    tasks = session.execute(
        sa.select(PlanTask.case_id, PlanTask.created_at, PlanTask.due_date, PlanTask.status)
        .where(PlanTask.agency_id == user.agency_id, PlanTask.case_id.in_(case_ids))
        .order_by(PlanTask.id)
    )
    return kind, {(c, created): (due, status) for c, created, due, status in tasks}


def unread_count(db: Database, user: User, items: bool = False) -> int:
    """The user's unread notifications; with `items`, as the inbox shows them (a
    deadline's unread rungs are one item): the number on the menu's badge."""
    with db.uow(readonly=True) as uow:
        unread = sa.and_(Notification.user_id == user.id, Notification.read_at.is_(None))
        if not items:
            count = uow.session.scalar(sa.select(sa.func.count(Notification.id)).where(unread))
            return int(count or 0)
        notices = sa.func.count(sa.case((Notification.fired_rung_id.is_(None), 1)))
        deadlines = sa.func.count(sa.distinct(FiredRung.deadline_id))
        count = uow.session.scalar(
            sa.select(notices + deadlines)
            .select_from(Notification)
            .outerjoin(FiredRung, FiredRung.id == Notification.fired_rung_id)
            .where(unread)
        )
        return int(count or 0)


# --- administration ------------------------------------------------------------------------


def mail_failures(db: Database, actor: User | None = None) -> list[dict[str, Any]]:
    """Users whose address the mail server refused for good (for administrators: those
    `actor` administers), with their unit and how much mail failed or waits for them."""
    with db.uow(readonly=True) as uow:
        session = uow.session
        statement = sa.select(User).where(User.email_failed_at.is_not(None))
        if actor is not None:
            statement = statement.where(scope.administered_users(actor))
        users = [u for u in session.scalars(statement.order_by(User.email_failed_at.desc()))]
        counts: dict[tuple[int, str], int] = {}
        if users:
            counts = {
                (user_id, status): int(n)
                for user_id, status, n in session.execute(
                    sa.select(Notification.user_id, Notification.mail_status, sa.func.count())
                    .where(
                        Notification.user_id.in_([u.id for u in users]),
                        Notification.mail_status.in_((MailStatus.FAILED, MailStatus.PENDING)),
                    )
                    .group_by(Notification.user_id, Notification.mail_status)
                )
            }
        return [
            {
                "user_id": u.id,
                "username": u.username,
                "full_name": u.full_name,
                "role": u.role,
                "unit_name": u.unit.name if u.unit else None,
                "email": u.email,
                "failed_at": u.email_failed_at.isoformat(),
                "error": u.email_error,
                "failed_mail": counts.get((u.id, MailStatus.FAILED), 0),
                "pending_mail": counts.get((u.id, MailStatus.PENDING), 0),
            }
            for u in users
            if u.email_failed_at is not None
        ]


# --- the case list: filters, search, keyset pages -------------------------------------------

#: Cases a page of the list shows.
PAGE_SIZE = 50
_REFERENCE_LIKE = re.compile(r"[0-9A-Za-z-]{3,24}")
#: A case reference written whole: province, year, number (casestore.insert_new_case).
_FULL_REFERENCE = re.compile(r"[0-9]{2}-[0-9]{4}-[0-9]{6,10}")


def _local_midnight(day: date | None) -> datetime:
    """The start of `day` in Vietnam (what "due before" a date means to its reader)."""
    from zoneinfo import ZoneInfo

    assert day is not None
    return datetime.combine(day, time(0, 0), ZoneInfo("Asia/Ho_Chi_Minh"))


def _cursor(row: dict[str, Any]) -> str:
    return f"{row['received_at']}|{row['id']}"


def parse_cursor(text: str) -> tuple[datetime, int]:
    """A page's cursor (the last row's receipt time and id); ValidationError if malformed."""
    from casework.errors import ValidationError

    stamp, _, number = text.partition("|")
    try:
        when = datetime.fromisoformat(stamp)
        case_id = int(number)
    except ValueError:
        raise ValidationError({"after": "is not a page of this list"}) from None
    if when.tzinfo is None or not 0 < case_id < 2**31:
        raise ValidationError({"after": "is not a page of this list"})
    return when, case_id


#: The assignee filter's value for the cases nobody is responsible for yet.
UNASSIGNED = "none"


def case_page(
    db: Database,
    actor: User,
    *,
    state: str | None = None,
    status: str | None = None,
    overdue: bool = False,
    due_before: date | None = None,
    assignee: str | None = None,
    abuse_type: str | None = None,
    risk: str | None = None,
    commune: str | None = None,
    search: str | None = None,
    tile: str | None = None,
    hours: int = 48,
    after: str | None = None,
    limit: int = PAGE_SIZE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One page of the cases in the actor's scope, newest first, filtered in the query, and
    the cursor of the next page (keyset: stable while cases are added). `search` finds a
    case reference, or — for those who see identities — a child's name with or without
    diacritics, or the reporter's phone. A filter on what the actor may not see (risk,
    assignee for intake staff; a commune for all but the province office) finds nothing."""
    from casework.names import name_key

    now = now or utcnow()
    statement = _case_rows_query(actor)
    if state:
        statement = statement.where(Case.state == state)
    if status == "open":
        statement = statement.where(Case.state != "closed")
    elif status == "closed":
        statement = statement.where(Case.state == "closed")
    steps = scope.visible_steps(actor)
    if overdue or due_before:
        limit_at = now if overdue else _local_midnight(due_before)
        if overdue and due_before:
            limit_at = min(now, _local_midnight(due_before))
        due = sa.select(Deadline.id).where(
            Deadline.case_id == Case.id, Deadline.status == "open", Deadline.due_at < limit_at
        )
        if steps is not None:
            due = due.where(Deadline.step.in_(steps))
        statement = statement.where(sa.exists(due))
    casework = scope.sees_casework(actor)
    if tile:  # a dashboard tile: the very condition its count used
        from casework.services.dashboard import tile_condition

        statement = statement.where(tile_condition(tile, now, hours))
    if assignee == UNASSIGNED:
        statement = statement.where(
            Case.assignee_id.is_(None) if scope.sees_casework(actor) else sa.false()
        )
    elif assignee:
        officer = sa.select(User.id).where(User.username == assignee, scope.assignee_filter(actor))
        statement = statement.where(Case.assignee_id.in_(officer))
    if risk:
        statement = statement.where(Case.risk_level == risk if casework else sa.false())
    if abuse_type:
        reported = sa.select(Report.id).where(
            Report.case_id == Case.id,
            # Catalogue ids: the stored JSON list holds them quoted, on both databases.
            sa.cast(Report.abuse_types, sa.Text).contains(f'"{abuse_type}"', autoescape=True),
        )
        if not scope.sees_identity(actor):
            reported = reported.where(sa.false())
        statement = statement.where(sa.exists(reported))
    if commune:
        unit = sa.select(AdministrativeUnit.id).where(
            AdministrativeUnit.code == commune,
            AdministrativeUnit.province_code == actor.province_code,
        )
        if not scope.filters_by_commune(actor):
            unit = unit.where(sa.false())
        statement = statement.where(Case.unit_id.in_(unit))
    if search and search.strip():
        # The cases found, each way on its own (a union): every part can use its index
        # (PostgreSQL's trigram indexes on names and references), and a rare name is found
        # without reading the province's cases in date order.
        text = search.strip()
        found: list[Any] = []
        if _FULL_REFERENCE.fullmatch(text):  # a whole reference: that case, by its index
            found.append(sa.select(Case.id).where(Case.reference == text))
        elif scope.sees_identity(actor) or _REFERENCE_LIKE.fullmatch(text):
            found.append(sa.select(Case.id).where(Case.reference.contains(text, autoescape=True)))
        if scope.sees_identity(actor):
            found.append(
                sa.select(Case.id)
                .join(Child, Child.id == Case.child_id)
                .where(Child.name_key.contains(name_key(text), autoescape=True))
            )
            if digits := phone_digits(text):
                phoned = sa.select(Report.case_id).where(
                    Report.case_id.is_not(None), _stored_phone().contains(digits, autoescape=True)
                )
                if scope.sees_own_reports(actor):  # intake staff: the reports they recorded
                    phoned = phoned.where(Report.created_by_id == actor.id)
                found.append(phoned)
        statement = statement.where(Case.id.in_(sa.union_all(*found)) if found else sa.false())
    if after:
        when, case_id = parse_cursor(after)
        statement = statement.where(sa.tuple_(Case.received_at, Case.id) < (when, case_id))
    statement = statement.order_by(Case.received_at.desc(), Case.id.desc()).limit(limit + 1)
    with db.uow(readonly=True) as uow:
        rows = _case_rows(uow.session, actor, statement, now)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"cases": rows, "next": _cursor(rows[-1]) if more and rows else None}


# --- the case page: its record in plain language, notes, attachments, what changed --------

#: The values a history entry may show, by kind: ("text", s), ("choice", catalogue, id),
#: ("choices", catalogue, [ids]), ("bool", b), ("date", iso), ("record", [parts]),
#: ("records", [[parts], ...]). A part is (field label key, value). Pages render them with
#: the label catalogue; nothing internal (ids, versions, sequence numbers) is in them.
Part = tuple[str, tuple[Any, ...]]


def _value_of(spec: Any, value: Any) -> tuple[Any, ...]:
    from workflows.spec import Kind

    kind = spec.type
    if kind.kind == Kind.CHOICE:
        return ("choice", kind.choice_labels or "", value)
    if kind.kind == Kind.BOOLEAN:
        return ("bool", bool(value))
    if kind.kind == Kind.DATE:
        return ("date", str(value))
    if kind.kind == Kind.RECORD and isinstance(value, dict):
        return ("record", _parts(kind.fields, value))
    if kind.kind == Kind.LIST and isinstance(value, list):
        item = kind.item
        if item is not None and item.kind == Kind.RECORD:
            return ("records", [_parts(item.fields, v) for v in value if isinstance(v, dict)])
        if item is not None and item.kind == Kind.CHOICE:
            return ("choices", item.choice_labels or "", [str(v) for v in value])
    return ("text", str(value))


def _parts(fields: Iterable[Any], data: dict[str, Any]) -> list[Part]:
    """The data an event was given, field by field in the form's order; keys that are no
    field of the form (internal bookkeeping) are left out."""
    return [
        (spec.label_key, _value_of(spec, data[spec.name]))
        for spec in fields
        if spec.name in data and data[spec.name] not in (None, "", [])
    ]


def _people(session: Session, ids: Iterable[int | None]) -> dict[int, tuple[str, str]]:
    """user id -> (display name, role), for the names a page shows."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {
        u.id: (u.full_name or u.username, u.role)
        for u in session.scalars(sa.select(User).where(User.id.in_(wanted)))
    }


def _story(session: Session, case: Case, since: datetime | None = None) -> list[dict[str, Any]]:
    """The case's record as people read it: who (name and role), when, what (the event),
    the step it led to, and the data given — plus assignments, which are not events."""
    workflow = get_workflow(case.workflow)
    transitions = session.scalars(
        sa.select(CaseTransition)
        .where(CaseTransition.case_id == case.id)
        .where(CaseTransition.occurred_at > since if since else sa.true())
        .order_by(CaseTransition.seq)
    ).all()
    from casework.models import AuditEvent

    assignments = session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.case_id == case.id, AuditEvent.action == "case.assigned")
        .where(AuditEvent.occurred_at > since if since else sa.true())
        .order_by(AuditEvent.id)
    ).all()
    named = _people(
        session,
        [t.actor_id for t in transitions]
        + [a.actor_id for a in assignments]
        + [a.summary.get("after", {}).get("assignee_id") for a in assignments],
    )
    entries: list[dict[str, Any]] = []
    for t in transitions:
        spec = workflow.events.get(t.event)
        who = named.get(t.actor_id) if t.actor_id else None
        entries.append(
            {
                "at": t.occurred_at,
                "who": who[0] if who else None,
                "role": who[1] if who else None,
                "event": t.event,
                "to": t.to_state if t.to_state != t.from_state else None,
                "parts": _parts(spec.fields, t.data) if spec else [],
            }
        )
    for a in assignments:
        who = named.get(a.actor_id) if a.actor_id else None
        officer = named.get(a.summary.get("after", {}).get("assignee_id"))
        entries.append(
            {
                "at": a.occurred_at,
                "who": who[0] if who else None,
                "role": who[1] if who else None,
                "event": "assign",
                "to": None,
                "parts": [("assignee_name", ("text", officer[0]))] if officer else [],
            }
        )
    entries.sort(key=lambda e: e["at"])
    for e in entries:
        e["at"] = _iso(e["at"])
    return entries


def _notes(session: Session, case: Case) -> list[dict[str, Any]]:
    from casework.models import CaseNote

    rows = session.scalars(
        sa.select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id)
    ).all()
    named = _people(session, [n.author_id for n in rows])
    return [
        {
            "at": _iso(n.created_at),
            "who": named.get(n.author_id, ("—", ""))[0] if n.author_id else "—",
            "role": named.get(n.author_id, ("", ""))[1] if n.author_id else "",
            "body": n.body,
        }
        for n in rows
    ]


def _attachments(session: Session, case: Case) -> list[dict[str, Any]]:
    from casework.models import CaseAttachment

    rows = session.scalars(
        sa.select(CaseAttachment)
        .where(CaseAttachment.case_id == case.id)
        .order_by(CaseAttachment.id)
    ).all()
    named = _people(session, [a.uploaded_by_id for a in rows])
    return [
        {
            "id": a.id,
            "kind": a.kind,
            "title": a.title,
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.size,
            "at": _iso(a.created_at),
            "who": named.get(a.uploaded_by_id, ("—", ""))[0] if a.uploaded_by_id else "—",
        }
        for a in rows
    ]


def case_file(
    db: Database, actor: User, case_id: int, purpose: str = "page", now: datetime | None = None
) -> dict[str, Any]:
    """The case page (and its print view): the case as `actor` may see it, and for those who
    see the casework its record in plain language, its notes, attachments and plan. One
    audited read (`purpose` says which view)."""
    now = now or utcnow()
    with db.uow() as uow:
        session = uow.session
        case = load_case(session, actor, case_id)
        view = case_view(session, case, actor, now)
        view["assignee_name"] = None
        if case.assignee_id is not None:
            assignee = _people(session, [case.assignee_id]).get(case.assignee_id)
            view["assignee_name"] = assignee[0] if assignee else None
        view["may_assign"] = scope.may_assign(actor) and case.state != "closed"
        view["files"] = scope.sees_case_files(actor)
        if view["files"]:
            view["story"] = _story(session, case)
            view["notes"] = _notes(session, case)
            view["attachments"] = _attachments(session, case)
            view["plan"] = _plan(case)
        _record_read(uow, actor, case, now, {"view": _read_view(actor), "purpose": purpose})
        uow.commit()
    return view


def _plan(case: Case) -> list[Part]:
    """The plan's measures (Mẫu 04) as the history shows them."""
    workflow = get_workflow(case.workflow)
    plan = case.facts.get("plan") or {}
    spec = workflow.events["submit_plan"]
    return _parts(spec.fields, plan) if isinstance(plan, dict) else []


def changes_since(db: Database, actor: User, case_id: int, since: datetime) -> list[dict[str, Any]]:
    """What others changed on a case after `since` (the time a form was drawn): for the
    notice of a stale form. Only for those who see the casework; others get []."""
    with db.uow(readonly=True) as uow:
        case = load_case(uow.session, actor, case_id)
        if not scope.sees_casework(actor):
            return []
        return _story(uow.session, case, since)


# --- the case list's choices and advice contacts -------------------------------------------


def list_choices(db: Database, actor: User) -> dict[str, Any]:
    """What the list's filters offer the actor: officers (by username, with their names)
    and, for the province office, the communes of the province."""
    with db.uow(readonly=True) as uow:
        officers = [
            (u.username, u.full_name or u.username)
            for u in uow.session.scalars(
                sa.select(User).where(scope.assignee_filter(actor)).order_by(User.username)
            )
        ]
        communes: list[tuple[str, str]] = []
        if scope.filters_by_commune(actor):
            communes = [
                (code, name)
                for code, name in uow.session.execute(
                    sa.select(AdministrativeUnit.code, AdministrativeUnit.name)
                    .where(
                        AdministrativeUnit.province_code == actor.province_code,
                        AdministrativeUnit.level == "commune",
                        AdministrativeUnit.valid_to.is_(None),
                    )
                    .order_by(AdministrativeUnit.name)
                )
            ]
    return {"officers": officers, "communes": communes}


_PHONE = re.compile(r"\+?[0-9][0-9 .\-]{5,18}[0-9]")


def phone_digits(text: str) -> str | None:
    """The digits of a phone number as searched (+84… and 0… are the same number), or None
    if `text` is not one."""
    if not _PHONE.fullmatch(text.strip()):
        return None
    digits = re.sub(r"[^0-9]", "", text)
    if text.strip().startswith("+84") or (digits.startswith("84") and len(digits) >= 11):
        digits = "0" + digits[2:]
    return digits


def _stored_phone() -> ColumnElement[str]:
    """The reporter's phone as stored, reduced to digits with a national 0 (in SQL)."""
    raw = Report.reporter["phone"].as_string()
    for ch in (" ", ".", "-", "+"):
        raw = sa.func.replace(raw, ch, "")
    return sa.case(
        (sa.and_(raw.like("84%"), sa.func.length(raw) >= 11), "0" + sa.func.substr(raw, 3)),
        else_=raw,
    )


def find_contacts(
    db: Database, actor: User, search: str, limit: int = 50, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Advice-only contacts (no case) that match a child's name (with or without
    diacritics) or the reporter's phone, for intake staff and the province office
    (scope.py). The search is an audited read (its count, never what was searched)."""
    from casework.names import name_key

    if not scope.may_search_contacts(actor) or not search.strip():
        return []
    now = now or utcnow()
    text = search.strip()
    matches: list[ColumnElement[bool]] = []
    if key := name_key(text):
        matches.append(Child.name_key.contains(key, autoescape=True))  # joined below
    if digits := phone_digits(text):
        matches.append(_stored_phone().contains(digits, autoescape=True))
    statement = (
        sa.select(Report, Child)
        .outerjoin(Child, Report.child_id == Child.id)
        .where(
            Report.kind == "advice",
            Report.case_id.is_(None),
            scope.contact_filter(actor),
            sa.or_(*matches) if matches else sa.false(),
        )
        .order_by(Report.received_at.desc(), Report.id.desc())
        .limit(limit)
    )
    with db.uow() as uow:
        rows = [
            {
                "received_at": _iso(r.received_at),
                "channel": r.channel,
                "child": c.full_name if c else None,
                "reporter": r.reporter.get("name") or None,
                "phone": r.reporter.get("phone") or None,
                "description": r.description,
            }
            for r, c in uow.session.execute(statement)
        ]
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor,
            action="contacts.searched",
            now=now,
            province_code=actor.province_code,
            summary={"found": len(rows)},
        )
        uow.commit()
    return rows
