"""Notices of what people did (issue 10 §6): a plan waiting for approval, a plan returned,
a task referred to an agency, a case transferred into a commune. Each is written by the
event's own write (one statement on PostgreSQL), to the right people only, in each
reader's language, with the case's reference and never the child's name."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from casework.casestore import open_store
from casework.errors import Conflict
from casework.models import MailStatus, Notification
from casework.services.cases import fire_event, plan_event
from casework.services.users import create_user
from tests.conftest import NEIGHBOUR, PASSWORD, at
from tests.helpers import RECEIVED, case_in, open_case, step

LATER = at(RECEIVED[:19]) + timedelta(hours=5)


def notices(db, kind: str) -> dict[str, list[Notification]]:
    """username -> that user's notices of `kind`."""
    from casework.models import User

    with db.uow(readonly=True) as uow:
        rows = uow.session.execute(
            sa.select(User.username, Notification)
            .join(User, User.id == Notification.user_id)
            .where(Notification.kind == kind)
            .order_by(Notification.id)
        )
        found: dict[str, list[Notification]] = {}
        for username, note in rows:
            found.setdefault(username, []).append(note)
        return found


def assert_reference_only(note: Notification, reference: str) -> None:
    assert reference in note.subject
    assert "Lan" not in note.subject + note.body  # the child's name: Nguyễn Thị Lan
    assert "Tổ 5" not in note.body


def test_a_submitted_plan_is_announced_to_the_communes_chairs(db, people) -> None:
    chair_en = create_user(db, "chair.en", "chair", PASSWORD, unit_code="20194", locale="en")
    view = case_in(db, people, "plan_approval")
    told = notices(db, "plan.submitted")
    assert sorted(told) == ["chair", "chair.en"]  # not the officer who submitted it
    (vi,), (en,) = told["chair"], told["chair.en"]
    assert vi.subject == f"[{view['reference']}] Kế hoạch chờ phê duyệt"
    assert en.subject == f"[{view['reference']}] A plan awaits your approval"
    assert f"/cases/{view['id']}" in en.body and en.case_id == view["id"]
    assert_reference_only(vi, view["reference"])
    assert chair_en.id == en.user_id


def test_a_returned_plan_is_announced_to_the_assigned_officer(db, people) -> None:
    view = case_in(db, people, "plan_approval")
    step(db, people, view["id"], "return_plan", LATER)
    told = notices(db, "plan.returned")
    assert list(told) == ["officer"]  # not the chair who returned it, not officer.2
    note = told["officer"][0]
    assert "Kế hoạch bị trả lại" in note.subject
    assert "thiếu biện pháp" not in note.body  # the reason stays on the case
    assert_reference_only(note, view["reference"])


def test_an_approved_plan_refers_each_task_to_its_agency(db, people) -> None:
    people.make("health", "agency", "20194", "health")
    create_user(
        db, "police.en", "agency", PASSWORD, unit_code="20194", agency_kind="police", locale="en"
    )
    view = case_in(db, people, "implementing")
    told = notices(db, "task.referred")
    assert sorted(told) == ["health", "police", "police.en"]  # police.2 is elsewhere
    assert "công an" in told["police"][0].subject
    assert told["police.en"][0].subject == f"[{view['reference']}] New task: task for police"
    assert "y tế" in told["health"][0].subject
    for notes in told.values():
        assert_reference_only(notes[0], view["reference"])
        assert notes[0].mail_status == MailStatus.NONE  # no address: inbox only


def test_a_user_with_an_address_gets_the_notice_by_mail_too(db, people) -> None:
    from casework.models import User

    with db.uow() as uow:
        uow.session.execute(
            sa.update(User).where(User.username == "chair").values(email="chair@example.org")
        )
        uow.commit()
    case_in(db, people, "plan_approval")
    (note,) = notices(db, "plan.submitted")["chair"]
    assert note.mail_status == MailStatus.PENDING and note.next_attempt_at is not None


def test_a_new_case_is_announced_to_the_commune_it_is_transferred_to(db, people) -> None:
    case = open_case(db, people)
    told = notices(db, "case.transferred_in")
    assert sorted(told) == ["chair", "officer"]  # not the neighbour commune, not intake
    assert_reference_only(told["officer"][0], case["reference"])


def test_a_case_moved_to_another_commune_is_announced_there(db, people) -> None:
    view = case_in(db, people, "specific_assessment")
    before = notices(db, "case.transferred_in")
    data = {"unit_code": NEIGHBOUR, "reason": "gia đình chuyển nơi ở"}
    fire_event(db, people["chair"], view["id"], "transfer_out", view["version"], data, now=LATER)
    after = notices(db, "case.transferred_in")
    new = {name for name in after if len(after[name]) > len(before.get(name, []))}
    assert new == {"officer.2", "chair.2"}
    assert "Ca được chuyển đến địa bàn" in after["chair.2"][0].subject


def test_an_event_that_loses_the_race_writes_no_notice(db, people) -> None:
    view = case_in(db, people, "plan_drafting")
    with pytest.raises(Conflict), open_store(db) as store:
        case = store.load(view["id"])
        assert case is not None
        case.version -= 1  # someone else's write came first
        store.write(
            plan_event(
                store,
                case,
                people["officer"],
                "submit_plan",
                {"measures": [{"agency_kind": "police", "action": "a", "due_date": "2027-12-31"}]},
                LATER,
            )
        )
    assert notices(db, "plan.submitted") == {}
