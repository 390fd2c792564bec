"""Agency tasks: the partner agency accepts or declines what was referred to it, then
completes it. Each answer meets the task's clock (late or on time) and is audited. The task
lists are read in queries.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from casework import audit, notify, scope
from casework.clock import utcnow
from casework.db import Database
from casework.deadlines import cancel, meet
from casework.errors import EventNotAllowed, NotFound, PermissionDenied, ValidationError
from casework.models import (
    Case,
    Deadline,
    DeadlineStatus,
    PlanTask,
    PlanTaskStatus,
    TaskUpdate,
    User,
)
from casework.services.queries import task_view, tasks_visible_to

#: action → (statuses it applies to, new status, clock it meets, clock it cancels)
ACTIONS = {
    "accept": ((PlanTaskStatus.PROPOSED,), PlanTaskStatus.ACCEPTED, "task_response", None),
    "decline": (
        (PlanTaskStatus.PROPOSED,),
        PlanTaskStatus.DECLINED,
        "task_response",
        "task_completion",
    ),
    "complete": (
        (PlanTaskStatus.PROPOSED, PlanTaskStatus.ACCEPTED),
        PlanTaskStatus.DONE,
        "task_completion",
        "task_response",
    ),
    # What has been done so far, on a task under way: no status change, no clock met.
    "progress": ((PlanTaskStatus.ACCEPTED,), PlanTaskStatus.ACCEPTED, None, None),
}
#: Answers that must say something: why a task is declined, what progress was made.
NOTE_REQUIRED = {"decline": "say why the task is declined", "progress": "say what was done"}


def answers_for(status: str) -> list[str]:
    """The answers an agency may give on a task in `status`, in the order offered."""
    return [action for action, (allowed, *_) in ACTIONS.items() if status in allowed]


def respond(
    db: Database,
    actor: User,
    task_id: int,
    action: Any,
    note: Any = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or utcnow()
    if action not in ACTIONS:
        raise ValidationError({"action": f"must be one of: {', '.join(ACTIONS)}"})
    if not isinstance(note, str) or len(note) > 2000:
        raise ValidationError({"note": "must be text of at most 2000 characters"})
    if action in NOTE_REQUIRED and not note.strip():
        raise ValidationError({"note": NOTE_REQUIRED[action]})
    with db.uow() as uow:
        session = uow.session
        if not scope.answers_tasks(actor):
            # Someone who sees the case (its commune, its province) sees the task: told
            # why not; anyone else is told what a task that does not exist would tell.
            seen = session.scalar(
                sa.select(PlanTask.id)
                .join(Case, PlanTask.case_id == Case.id)
                .where(PlanTask.id == task_id, scope.case_filter(actor))
            )
            if seen is not None:
                raise PermissionDenied("only the agency the task is referred to answers it")
            raise NotFound(f"task {task_id} not found")
        task = session.scalars(
            sa.select(PlanTask)
            .join(Case, PlanTask.case_id == Case.id)
            .where(PlanTask.id == task_id, tasks_visible_to(actor))
            .with_for_update(of=PlanTask, key_share=True)
        ).first()
        if task is None:
            raise NotFound(f"task {task_id} not found")
        allowed_from, new_status, meets, cancels = ACTIONS[action]
        if task.status not in allowed_from:
            raise EventNotAllowed(f"task {task_id} is {task.status}: cannot {action} it")
        case = session.get(Case, task.case_id)
        assert case is not None
        if case.state == "closed":
            raise EventNotAllowed(f"case {case.reference} is closed")
        before = task.status
        task.status = new_status
        task.note = note.strip()
        session.add(
            TaskUpdate(task_id=task.id, action=action, note=task.note, actor_id=actor.id, at=now)
        )
        if action in ("accept", "decline"):
            task.responded_at = now
        if action == "complete":
            task.completed_at = now
        changes: dict[str, list[str]] = {"met": [], "cancelled": []}
        for deadline in session.scalars(
            sa.select(Deadline).where(
                Deadline.task_id == task.id, Deadline.status == DeadlineStatus.OPEN
            )
        ):
            if meets and deadline.rule.startswith(meets):
                meet(deadline, now)
                changes["met"].append(deadline.rule)
            elif cancels and deadline.rule.startswith(cancels):
                cancel(deadline)
                changes["cancelled"].append(deadline.rule)
        audit.record(
            session,
            uow.settings.audit_key,
            actor=actor,
            action=f"task.{action}",
            now=now,
            province_code=case.province_code,
            case_id=case.id,
            summary={
                "task_id": task.id,
                "before": before,
                "after": task.status,
                "deadlines": changes,
            },
        )
        if action == "decline":  # the commune's officer (or officers) and chairs are told
            staff = notify.case_staff(session, case.unit_id, case.assignee_id)
            base_url = str(uow.settings.extra.get("base_url", ""))
            notify.tell(session, staff, "task.declined", case, base_url, now)
        view = task_view(task, case)
        uow.commit()
    return view
