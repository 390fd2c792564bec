"""What pages and the API read: case views, case lists, task lists, the inbox and its
unread count, mail failures. Commands live apart (cases.py: fire an event, assign;
tasks.py: answer a task; intake.py; notifications.py: mark read); they may build their
answers with what is here, never the other way round. Every read filters through scope.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from casework import audit, notify, scope
from casework.casestore import CaseRow, CaseStore, Clock, TaskRow
from casework.clock import utcnow
from casework.db import Database
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
    Notification,
    PlanTask,
    PlanTaskStatus,
    Report,
    User,
)
from casework.scope import answers_tasks as answers_tasks  # pages ask them; scope.py decides
from casework.scope import may_administer as may_administer
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
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor,
            action="case.read",
            now=now,
            province_code=case.province_code,
            case_id=case.id,
            summary={"view": "full" if scope.sees_identity(actor) else "referred"},
        )
        uow.commit()
    return view


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
        sa.select(Case, User.username)
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
    return [
        {
            "id": c.id,
            "reference": c.reference,
            "state": c.state,
            "risk_level": c.risk_level if casework else None,
            "received_at": _iso(c.received_at),
            "next_due_at": _iso(next_due.get(c.id)),
            "overdue": bool(next_due.get(c.id) and next_due[c.id] < now),
            "assignee": assignee,
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
    work: dict[str, Any] = {}
    with db.uow(readonly=True) as uow:
        for section in sections:
            statement = _case_rows_query(actor).where(conditions[section])
            rows = _case_rows(uow.session, actor, statement.limit(WORK_SECTION_SIZE), now)
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
        "agency_kind": task.agency_kind,
        "action": task.action,
        "due_date": task.due_date.isoformat(),
        "status": task.status,
        "note": task.note,
    }


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


def mail_failures(db: Database) -> list[dict[str, Any]]:
    """Users whose address the mail server refused for good (for administrators)."""
    with db.uow(readonly=True) as uow:
        return [
            {
                "username": u.username,
                "email": u.email,
                "failed_at": u.email_failed_at.isoformat(),
                "error": u.email_error,
            }
            for u in uow.session.scalars(
                sa.select(User).where(User.email_failed_at.is_not(None)).order_by(User.username)
            )
            if u.email_failed_at is not None
        ]


# --- the case list: filters, search, keyset pages -------------------------------------------

#: Cases a page of the list shows.
PAGE_SIZE = 50
_REFERENCE_LIKE = re.compile(r"[0-9A-Za-z-]{3,24}")


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


def case_page(
    db: Database,
    actor: User,
    *,
    state: str | None = None,
    overdue: bool = False,
    search: str | None = None,
    after: str | None = None,
    limit: int = PAGE_SIZE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One page of the cases in the actor's scope, newest first, filtered in the query, and
    the cursor of the next page (keyset: stable while cases are added). `search` finds a
    case reference, or — for those who see identities — a child's name with or without
    diacritics."""
    from casework.names import name_key

    now = now or utcnow()
    statement = _case_rows_query(actor)
    if state:
        statement = statement.where(Case.state == state)
    if overdue:
        late = sa.select(Deadline.id).where(
            Deadline.case_id == Case.id, Deadline.status == "open", Deadline.due_at < now
        )
        steps = scope.visible_steps(actor)
        if steps is not None:
            late = late.where(Deadline.step.in_(steps))
        statement = statement.where(sa.exists(late))
    if search and search.strip():
        text = search.strip()
        matches = [Case.reference.contains(text, autoescape=True)]
        if scope.sees_identity(actor):
            child = sa.select(Child.id).where(
                Child.id == Case.child_id,
                Child.name_key.contains(name_key(text), autoescape=True),
            )
            matches.append(sa.exists(child))
        elif not _REFERENCE_LIKE.fullmatch(text):
            matches = [sa.false()]
        statement = statement.where(sa.or_(*matches))
    if after:
        when, case_id = parse_cursor(after)
        statement = statement.where(sa.tuple_(Case.received_at, Case.id) < (when, case_id))
    statement = statement.order_by(Case.received_at.desc(), Case.id.desc()).limit(limit + 1)
    with db.uow(readonly=True) as uow:
        rows = _case_rows(uow.session, actor, statement, now)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"cases": rows, "next": _cursor(rows[-1]) if more and rows else None}
