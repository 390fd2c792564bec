"""Case commands: fire a workflow event, assign. The only door for changes to a case; what
pages and the API read of a case is in queries.py, which builds these commands' answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from casework import audit, notify, scope
from casework.casestore import CaseChange, CaseRow, CaseStore, Clock, open_store, task_row
from casework.clock import utcnow
from casework.db import Database, UnitOfWork
from casework.deadlines import cancel, on_event, on_state_entered, task_clocks
from casework.errors import Conflict, EventNotAllowed, NotFound, ValidationError
from casework.models import (
    AdministrativeUnit,
    Agency,
    Case,
    DeadlineStatus,
    PlanTask,
    PlanTaskStatus,
    User,
)
from casework.models.cases import OPEN_TASK_STATUSES
from casework.notify import task_cancelled_notices
from casework.rules import province_calendar, province_rules
from casework.services.queries import case_view, event_view, load_case
from casework.services.units import commune_ref
from workflows.case import NEW_CYCLE_EVENTS
from workflows.engine import (
    EventNotAvailable,
    GuardRefused,
    InvalidEventData,
    UnknownEvent,
    fire,
    get_workflow,
)
from workflows.spec import CaseSnapshot


@dataclass
class EventContext:
    store: CaseStore
    case: CaseRow
    actor: User | None
    data: dict[str, Any]
    facts: dict[str, Any]
    now: datetime
    new_tasks: list[dict[str, Any]] = field(default_factory=list)
    task_clocks: list[Clock] = field(default_factory=list)
    superseded_tasks: list[int] = field(default_factory=list)
    cancelled_tasks: list[int] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    cancelled_clocks: list[Clock] = field(default_factory=list)

    @property
    def session(self) -> Session:
        return self.store.session


def _recorded(ctx: EventContext, **extra: Any) -> dict[str, Any]:
    return {
        **ctx.data,
        **extra,
        "by": ctx.actor.id if ctx.actor else None,
        "at": ctx.now.isoformat(),
    }


def _transfer(ctx: EventContext) -> None:
    if ctx.data.get("unit_code"):
        _move_to(ctx, ctx.data["unit_code"])
    _tell_commune(ctx)


def _transfer_out(ctx: EventContext) -> None:
    _move_to(ctx, ctx.data["unit_code"], must_differ=True)
    _tell_commune(ctx)


def _base_url(ctx: EventContext) -> str:
    return str(ctx.store.settings.extra.get("base_url", ""))


def _tell(ctx: EventContext, users: list[User], kind: str, agency_kind: str | None = None) -> None:
    """Notices the event's own write carries (reference and link only)."""
    case = ctx.case
    actor_id = ctx.actor.id if ctx.actor else None
    ctx.notices += notify.event_notices(
        users, kind, case.id, case.reference, _base_url(ctx), ctx.now, actor_id, agency_kind
    )


def _tell_commune(ctx: EventContext) -> None:
    """The commune the case is transferred to — from the intake point or from another
    commune — hears of it: its officers and chairs (it accepts and assigns the case)."""
    _tell(ctx, notify.case_staff(ctx.session, ctx.case.unit_id, None), "case.transferred_in")


def _move_to(ctx: EventContext, code: str, must_differ: bool = False) -> None:
    unit = commune_ref(ctx.store, code, "data.unit_code")
    if must_differ and unit.id == ctx.case.unit_id:
        raise ValidationError({"data.unit_code": "the case is already at this commune"})
    if unit.id != ctx.case.unit_id:
        _cancel_open_tasks(ctx)
        ctx.case.unit_id = unit.id
        ctx.case.province_code = unit.province_code
        ctx.case.assignee_id = None  # the receiving commune names its own officer


def _cancel_open_tasks(ctx: EventContext) -> None:
    """The case leaves its commune: the old plan's open tasks are cancelled, their clocks
    stop, and their agencies are told (their access to the case ends: scope.py). The
    receiving commune assesses and plans anew."""
    case = ctx.case
    ctx.cancelled_tasks = [t.id for t in case.tasks if t.status in OPEN_TASK_STATUSES]
    if not ctx.cancelled_tasks:
        return
    for clock in case.clocks:
        if clock.task_id in ctx.cancelled_tasks and clock.status == DeadlineStatus.OPEN:
            cancel(clock)
            ctx.cancelled_clocks.append(clock)
    agencies = ctx.session.execute(
        sa.select(PlanTask.id, PlanTask.agency_id, PlanTask.agency_kind)
        .where(PlanTask.id.in_(ctx.cancelled_tasks))
        .order_by(PlanTask.id)
    )
    ctx.notices += task_cancelled_notices(
        ctx.session, case.reference, [(t, a, k) for t, a, k in agencies], ctx.now
    )


def _accept(ctx: EventContext) -> None:
    username = ctx.data.get("assignee")
    if username:
        ctx.case.assignee_id = _officer_of(ctx.session, ctx.case, username, "data.assignee").id
    elif ctx.actor is not None and scope.assigns_self_on_accept(ctx.actor):
        ctx.case.assignee_id = ctx.actor.id


def _officer_of(session: Session, case: Case | CaseRow, username: str, field: str) -> User:
    user = session.scalars(sa.select(User).where(User.username == username)).first()
    if user is None or not user.active:
        raise ValidationError({field: f"no active user named {username!r}"})
    if not scope.may_be_assigned(user, case.unit_id):
        raise ValidationError({field: f"{username!r} is not an officer of the case's commune"})
    return user


def _assess(ctx: EventContext) -> None:
    ctx.case.risk_level = ctx.data["risk_level"]
    ctx.facts["initial_assessment"] = _recorded(ctx)


def _close(ctx: EventContext) -> None:
    if "review" in ctx.data:
        ctx.facts["review"] = _recorded(ctx)
    if "reason" in ctx.data:
        ctx.facts["unfounded"] = _recorded(ctx)
    ctx.case.closed_at = ctx.now


def _plan_submitted(ctx: EventContext) -> None:
    ctx.facts["plan"] = _recorded(ctx)
    # Who approves is the workflow's word: the roles that may fire the approval, at the
    # case's commune.
    approvers = get_workflow(ctx.case.workflow).events["approve_plan"].by
    _tell(ctx, notify.unit_users(ctx.session, ctx.case.unit_id, approvers), "plan.submitted")


def _plan_approved(ctx: EventContext) -> None:
    plan = dict(ctx.facts.get("plan", {}))
    plan["approved_at"] = ctx.now.isoformat()
    plan["approved_by"] = ctx.actor.id if ctx.actor else None
    ctx.facts["plan"] = plan
    case = ctx.case
    # Tasks of an earlier plan that no agency answered are superseded, their clocks stop.
    ctx.superseded_tasks = [t.id for t in case.tasks if t.status == PlanTaskStatus.PROPOSED]
    for clock in case.clocks:
        if clock.task_id in ctx.superseded_tasks and clock.status == DeadlineStatus.OPEN:
            cancel(clock)
            ctx.cancelled_clocks.append(clock)
    rules = province_rules(ctx.store, case.workflow, case.province_code, ctx.now)
    calendar = province_calendar(ctx.store, case.province_code)
    for measure in plan.get("measures", []):
        kind, due = measure["agency_kind"], date.fromisoformat(measure["due_date"])
        ctx.task_clocks += task_clocks(
            case, rules, calendar, kind, due, ctx.now, len(ctx.new_tasks)
        )
        agency_id = _agency_for(ctx.store, case, kind)
        ctx.new_tasks.append(task_row(case.id, kind, agency_id, measure["action"], due, ctx.now))
        if agency_id is not None:  # the agency hears of its task (and may now see the case)
            _tell(ctx, notify.agency_users(ctx.session, agency_id), "task.referred", kind)


def _agency_for(store: CaseStore, case: CaseRow, kind: str) -> int | None:
    """The agency of that kind at the case's commune, else at its province (cached briefly,
    like the province settings)."""

    def load() -> int | None:
        session = store.session
        unit = session.get(AdministrativeUnit, case.unit_id)
        for unit_id in (case.unit_id, unit.parent_id if unit else None):
            if unit_id is None:
                continue
            agency_id = session.scalar(
                sa.select(Agency.id).where(Agency.unit_id == unit_id, Agency.kind == kind).limit(1)
            )
            if agency_id:
                return agency_id
        return None

    return store.cache.get(("agency", case.unit_id, kind), load)  # type: ignore[no-any-return]


def _decide_emergency(ctx: EventContext) -> None:
    ctx.facts["emergency_decision"] = _recorded(ctx)
    if ctx.data.get("separation"):
        ctx.facts["separation"] = {
            "until": ctx.data["separation_until"],
            "decided_at": ctx.now.isoformat(),
            "extensions": [],
        }


def _extend_separation(ctx: EventContext) -> None:
    separation = dict(ctx.facts["separation"])
    extension = _recorded(ctx, previous_until=separation["until"])
    separation["extensions"] = [*separation.get("extensions", []), extension]
    separation["until"] = ctx.data["separation_until"]
    ctx.facts["separation"] = separation


def _end_separation(ctx: EventContext) -> None:
    ctx.facts["separation"] = {**ctx.facts["separation"], "ended": _recorded(ctx)}


def _store(key: str) -> Callable[[EventContext], None]:
    def effect(ctx: EventContext) -> None:
        ctx.facts[key] = _recorded(ctx)

    return effect


def _plan_returned(ctx: EventContext) -> None:
    plan = dict(ctx.facts.get("plan", {}))
    plan["returned"] = _recorded(ctx)
    ctx.facts["plan"] = plan
    officers = notify.case_officers(ctx.session, ctx.case.unit_id, ctx.case.assignee_id)
    _tell(ctx, officers, "plan.returned")


def _reopen(ctx: EventContext) -> None:
    ctx.case.closed_at = None


EFFECTS: dict[str, Callable[[EventContext], None]] = {
    "transfer": _transfer,
    "transfer_out": _transfer_out,
    "accept": _accept,
    "assess": _assess,
    "mark_unfounded": _close,
    "decide_emergency": _decide_emergency,
    "extend_separation": _extend_separation,
    "end_separation": _end_separation,
    "complete_assessment": _store("specific_assessment"),
    "submit_plan": _plan_submitted,
    "approve_plan": _plan_approved,
    "return_plan": _plan_returned,
    "close": _close,
    "reopen": _reopen,
}

_AUDITED = ("state", "risk_level", "assignee_id", "unit_id")


def plan_event(
    store: CaseStore,
    case: CaseRow,
    actor: User | None,
    event: str,
    data: Any,
    now: datetime,
    clock_anchor: datetime | None = None,
) -> CaseChange:
    """Decide everything `event` does to `case` — state, facts, clocks, tasks, history and
    the audit event — without writing (the store writes the change at once). `case` is
    updated in place. Role checks are the caller's."""
    definition = get_workflow(case.workflow)
    snapshot = CaseSnapshot(
        state=case.state, risk_level=case.risk_level, facts=dict(case.facts), now=now
    )
    try:
        fired = fire(definition, snapshot, event, data)
    except UnknownEvent as error:
        raise ValidationError({"event": str(error)}) from None
    except InvalidEventData as error:
        raise ValidationError({f"data.{error.path}": error.message}) from None
    except (EventNotAvailable, GuardRefused) as error:
        raise EventNotAllowed(str(error)) from None
    before = {name: getattr(case, name) for name in _AUDITED}
    expected_version = case.version
    ctx = EventContext(store, case, actor, dict(fired.data), dict(case.facts), now)
    effect = EFFECTS.get(event)
    if effect:
        effect(ctx)
    case.facts = ctx.facts
    if event in NEW_CYCLE_EVENTS:
        case.cycle += 1
        case.clock_started_at = clock_anchor or now
    rules = province_rules(store, case.workflow, case.province_code, now)
    calendar = partial(province_calendar, store, case.province_code)
    case.updated_at = now
    clocks = on_event(case, event, fired.data, now, rules, calendar)
    if fired.transition is None or fired.transition.dest is not None:  # a step is entered
        case.state = fired.to_state
        case.state_entered_at = now
        entered = on_state_entered(case, fired.to_state, now, rules, calendar, definition.final)
        clocks.closed += entered.closed
        clocks.opened += entered.opened
    case.clocks += ctx.task_clocks
    clocks.closed[:0] = ctx.cancelled_clocks
    after = {name: getattr(case, name) for name in _AUDITED}
    entry = audit.Entry(
        action=f"case.{event}",
        actor=actor,
        province_code=case.province_code,
        case_id=case.id,
        summary={
            "before": {k: v for k, v in before.items() if after[k] != v}
            | {"state": before["state"]},
            "after": {k: v for k, v in after.items() if before[k] != v} | {"state": after["state"]},
            "deadlines": {k: v for k, v in clocks.summary().items() if v},
            "fields": sorted(fired.data),  # names only: free text may identify the child
        }
        | ({"tasks_cancelled": ctx.cancelled_tasks} if ctx.cancelled_tasks else {}),
    )
    return CaseChange(
        case=case,
        expected_version=expected_version,
        history=history_row(case, actor, event, fired.from_state, fired.to_state, fired.data, now),
        closed=clocks.closed,
        opened=clocks.opened + ctx.task_clocks,
        new_tasks=ctx.new_tasks,
        superseded_tasks=ctx.superseded_tasks,
        cancelled_tasks=ctx.cancelled_tasks,
        notices=ctx.notices,
        audit=entry.values(now),
    )


def history_row(
    case: CaseRow,
    actor: User | None,
    event: str,
    from_state: str | None,
    to_state: str,
    data: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """The next row of the case's history (the case row is written with it, versioned: no
    one else numbers it)."""
    case.last_seq += 1
    return {
        "seq": case.last_seq,
        "event": event,
        "from_state": from_state,
        "to_state": to_state,
        "actor_id": actor.id if actor else None,
        "occurred_at": now,
        "reason": str(data.get("reason", "")),
        "data": audit.json_safe(data),
    }


def _check_version(version: Any, case: Case | CaseRow) -> None:
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationError({"version": "must be the case's version number (an integer)"})
    if version != case.version:
        raise Conflict(
            f"case {case.id} was changed by someone else (your version {version}, "
            f"current {case.version}): reload it and try again",
            current_version=case.version,
        )


def _commit_change(
    uow: UnitOfWork, case: Case, actor: User, now: datetime, entry: audit.Entry
) -> dict[str, Any]:
    """Flush (a concurrent writer's newer version fails the versioned UPDATE), prepare the
    lean answer, then write the audit event — last, so the chain head is held briefly — and
    commit."""
    try:
        uow.session.flush()
    except StaleDataError:
        raise Conflict(f"case {case.id} was changed by someone else: reload it") from None
    view = case_view(uow.session, case, actor, now, full=False)
    entry.write(uow.session, uow.settings.audit_key, now)
    uow.commit()
    return view


def fire_event(
    db: Database,
    actor: User,
    case_id: int,
    event: Any,
    version: Any,
    data: Any = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Fire a workflow event on a case: one read, one write (see casework/casestore.py).

    Raises NotFound (out of scope), Conflict (stale version), ValidationError (bad event
    name or data), PermissionDenied (role), EventNotAllowed (state or a legal guard).
    """
    now = now or utcnow()
    if not isinstance(event, str) or not event:
        raise ValidationError({"event": "is required (an event name)"})
    with open_store(db) as store:
        case = store.load(case_id)
        if case is None or not scope.may_see(lambda: store.session, actor, case):
            raise NotFound(f"case {case_id} not found")
        _check_version(version, case)
        definition = get_workflow(case.workflow)
        if event not in definition.events:
            raise ValidationError(
                {"event": f"unknown event {event!r} (known: {', '.join(definition.events)})"}
            )
        scope.check_may_fire(actor, definition.events[event])
        store.write(plan_event(store, case, actor, event, data, now))
        return event_view(store, case, actor, now)


def assign(
    db: Database,
    actor: User,
    case_id: int,
    assignee: str,
    version: Any,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Name the officer responsible. Never touches the statutory clocks."""
    now = now or utcnow()
    with db.uow() as uow:
        session = uow.session
        case = load_case(session, actor, case_id, for_update=True)
        _check_version(version, case)
        if not scope.may_assign(actor):
            raise scope.PermissionDenied("only the commune chair or province staff assign cases")
        if case.state == "closed":
            raise EventNotAllowed("the case is closed: reopen it before assigning it")
        before = case.assignee_id
        officer = _officer_of(session, case, assignee, "assignee")
        case.assignee_id = officer.id
        case.updated_at = now
        if officer.id != before:  # the officer hears of it (in the same transaction)
            base_url = str(uow.settings.extra.get("base_url", ""))
            notify.tell(session, [officer], "case.assigned", case, base_url, now)
        entry = audit.Entry(
            action="case.assigned",
            actor=actor,
            province_code=case.province_code,
            case_id=case.id,
            summary={"before": {"assignee_id": before}, "after": {"assignee_id": case.assignee_id}},
        )
        return _commit_change(uow, case, actor, now, entry)


#: At most this many cases in one bulk reassignment (a list's page holds fewer).
BULK_MAX = 200


def reassign_many(
    db: Database,
    actor: User,
    chosen: list[tuple[int, int]],
    assignee: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Name one officer responsible for several cases — (case id, version as the list
    showed it) — each through `assign`: audited per case, clocks never touched.

    Everything is checked first: a case the actor may not see, a closed one, one changed
    since the list was drawn (its version) or one of a commune the officer does not serve
    refuses the whole batch, each refusal named, and nothing is written (`refused`). Then
    each case is assigned in its own transaction, as a single reassignment is; a case that
    changes between the check and its write (a race) is reported not done, the others stay
    done. Each result: case_id, reference, commune, problem (None, "not_found", "closed",
    "stale", "other_commune"), done."""
    from casework.models import AdministrativeUnit

    if not scope.may_assign(actor):
        raise scope.PermissionDenied("only the commune chair or province staff assign cases")
    if not chosen:
        raise ValidationError({"case": "choose at least one case"})
    if len(chosen) > BULK_MAX:
        raise ValidationError({"case": f"at most {BULK_MAX} cases at once"})
    wanted = dict(chosen)
    with db.uow(readonly=True) as uow:
        session = uow.session
        officer = session.scalars(sa.select(User).where(User.username == assignee)).first()
        if officer is None or not officer.active:
            raise ValidationError({"assignee": f"no active user named {assignee!r}"})
        found = {
            case.id: (case, commune)
            for case, commune in session.execute(
                sa.select(Case, AdministrativeUnit.name)
                .join(AdministrativeUnit, Case.unit_id == AdministrativeUnit.id)
                .where(Case.id.in_(list(wanted)), scope.case_filter(actor))
            )
        }
        results: list[dict[str, Any]] = []
        for case_id, version in chosen:
            case, commune = found.get(case_id, (None, None))
            problem = None
            if case is None:
                problem = "not_found"
            elif case.state == "closed":
                problem = "closed"
            elif case.version != version:
                problem = "stale"
            elif not scope.may_be_assigned(officer, case.unit_id):
                problem = "other_commune"
            results.append(
                {
                    "case_id": case_id,
                    "reference": case.reference if case else None,
                    "commune": commune,
                    "problem": problem,
                    "done": False,
                }
            )
    if any(r["problem"] for r in results):
        return {"refused": True, "results": results}
    for result in results:
        try:
            assign(db, actor, result["case_id"], assignee, wanted[result["case_id"]], now)
        except Conflict:
            result["problem"] = "stale"
        except (EventNotAllowed, NotFound, ValidationError):
            result["problem"] = "changed"
        else:
            result["done"] = True
    return {"refused": False, "results": results}
