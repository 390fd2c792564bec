"""Agency tasks: their clocks, the agency's answers, and their own ladder."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from casework.deadlines import sweep
from casework.errors import NotFound, PermissionDenied, ValidationError
from casework.models import Notification
from casework.services.queries import get_case, list_tasks
from casework.services.tasks import respond
from tests.conftest import at
from tests.helpers import case_in


def task_clocks(db, people, case_id, now):
    view = get_case(db, people["officer"], case_id, now=now)
    return {(d["rule"], d["task_id"]): d for d in view["deadlines"] if d["task_id"]}


def police_task(db, people):
    tasks = list_tasks(db, people["police"])
    assert len(tasks) == 1
    return tasks[0]


def test_approved_plan_opens_response_and_completion_clocks(db, people) -> None:
    view = case_in(db, people, "implementing")
    clocks = task_clocks(db, people, view["id"], at("2027-02-04T00:00"))
    rules = sorted(rule for rule, _ in clocks)
    assert rules == [
        "task_completion",
        "task_completion",
        "task_response.health",
        "task_response.police",
    ]
    police = next(d for (rule, _), d in clocks.items() if rule == "task_response.police")
    approved = next(d for d in view["deadlines"] if d["rule"] == "plan_approval")["met_at"]
    from datetime import timedelta

    from casework.clock import parse_iso

    assert parse_iso(police["due_at"]) - parse_iso(approved) == timedelta(hours=24)


def test_agency_accepts_then_completes_meeting_its_clocks(db, people) -> None:
    view = case_in(db, people, "implementing")
    task = police_task(db, people)
    accepted = respond(db, people["police"], task["id"], "accept", now=at("2027-02-03T15:00"))
    assert accepted["status"] == "accepted"
    done = respond(
        db, people["police"], task["id"], "complete", "đã lập hồ sơ", now=at("2027-02-10T09:00")
    )
    assert done["status"] == "done"
    clocks = task_clocks(db, people, view["id"], at("2027-02-10T09:00"))
    mine = {rule: d["status"] for (rule, tid), d in clocks.items() if tid == task["id"]}
    assert mine == {"task_response.police": "met", "task_completion": "met"}


def test_decline_needs_a_reason_and_cancels_completion(db, people) -> None:
    view = case_in(db, people, "implementing")
    task = police_task(db, people)
    with pytest.raises(ValidationError, match="note"):
        respond(db, people["police"], task["id"], "decline", "", now=at("2027-02-03T15:00"))
    respond(
        db,
        people["police"],
        task["id"],
        "decline",
        "không thuộc thẩm quyền",
        now=at("2027-02-03T15:00"),
    )
    clocks = task_clocks(db, people, view["id"], at("2027-02-03T15:00"))
    mine = {rule: d["status"] for (rule, tid), d in clocks.items() if tid == task["id"]}
    assert mine == {"task_response.police": "met", "task_completion": "cancelled"}
    # Declined, the task is no longer the agency's: it cannot be completed, nor even found.
    with pytest.raises(NotFound):
        respond(db, people["police"], task["id"], "complete", now=at("2027-02-04T15:00"))


def test_only_the_agency_answers_its_task(db, people) -> None:
    case_in(db, people, "implementing")
    task = police_task(db, people)
    with pytest.raises(NotFound):
        respond(db, people["police.2"], task["id"], "accept", now=at("2027-02-03T15:00"))
    with pytest.raises(PermissionDenied):
        respond(db, people["officer"], task["id"], "accept", now=at("2027-02-03T15:00"))
    with pytest.raises(ValidationError, match="action"):
        respond(db, people["police"], task["id"], "ignore", now=at("2027-02-03T15:00"))


def test_unanswered_task_escalates_agency_then_supervisor_then_chair(db, people) -> None:
    people.make("police.province", "agency", "48", "police")
    case_in(db, people, "implementing")
    sweep(db, at("2027-02-10T00:00"))  # well past the 24 h response time (+24 h)

    def kinds(username):
        with db.uow(readonly=True) as uow:
            return sorted(
                uow.session.scalars(
                    sa.select(Notification.kind).where(
                        Notification.user_id == people[username].id,
                        Notification.subject.like("%công an%"),
                        Notification.kind.like("deadline.%"),  # not the task's referral
                    )
                )
            )

    assert kinds("police") == ["deadline.overdue", "deadline.reminded"]
    assert kinds("police.province") == ["deadline.overdue"]
    assert kinds("chair") == ["deadline.escalated"]


def test_an_agency_answer_between_the_read_and_the_write_of_an_event_is_kept(
    db, people, backend
) -> None:
    """An agency's answer does not change the case's version, so it can land between an
    event's read and its write. Closing the case then stops only the clocks still open:
    the agency's met clocks stay met, not cancelled."""
    if backend == "sqlite":
        pytest.skip("SQLite reads an event's case under its write lock: no answer between")
    from casework.casestore import open_store
    from casework.services.cases import plan_event

    view = case_in(db, people, "reviewing")
    task = police_task(db, people)
    respond(db, people["police"], task["id"], "accept", now=at("2027-02-04T08:00"))
    when = at("2027-02-20T09:00")
    with open_store(db) as store:
        case = store.load(view["id"])
        change = plan_event(
            store,
            case,
            people["chair"],
            "close",
            {"review": {"harm": "low", "abuser_access": "low", "environment": "low"}},
            when,
        )
        # Meanwhile, on another connection, the police complete their task.
        respond(db, people["police"], task["id"], "complete", "xong", now=at("2027-02-20T08:59"))
        store.write(change)
    clocks = task_clocks(db, people, view["id"], when)
    mine = {rule: d["status"] for (rule, tid), d in clocks.items() if tid == task["id"]}
    assert mine == {"task_response.police": "met", "task_completion": "met"}
    others = [d["status"] for (_, tid), d in clocks.items() if tid != task["id"]]
    assert others and set(others) == {"cancelled"}


def test_the_officer_hears_when_an_agency_declines_and_an_officer_when_assigned(db, people):
    import sqlalchemy as sa

    from casework.models import Notification
    from casework.services.cases import assign
    from casework.services.queries import get_case
    from casework.services.tasks import respond
    from tests.conftest import at
    from tests.helpers import case_in

    def inbox(user: str) -> list[Notification]:
        with db.uow(readonly=True) as uow:
            return list(
                uow.session.scalars(
                    sa.select(Notification).where(Notification.user_id == people[user].id)
                )
            )

    people.make("officer.b", "officer", "20194")
    view = case_in(db, people, "implementing")
    now = at("2027-02-04T10:00:00")
    task = next(t for t in view["tasks"] if t["agency_kind"] == "police")
    respond(db, people["police"], task["id"], "decline", "không thuộc thẩm quyền", now=now)
    declined = [n for n in inbox("officer") if n.kind == "task.declined"]
    assert len(declined) == 1 and view["reference"] in declined[0].subject
    assert "Nguyễn Thị Lan" not in declined[0].subject + declined[0].body
    assert [n.kind for n in inbox("chair")].count("task.declined") == 1
    version = get_case(db, people["chair"], view["id"], now=now)["version"]
    assign(db, people["chair"], view["id"], "officer.b", version, now=now)
    assigned = [n for n in inbox("officer.b") if n.kind == "case.assigned"]
    assert len(assigned) == 1 and assigned[0].subject.startswith(f"[{view['reference']}]")
