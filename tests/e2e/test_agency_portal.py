"""The agency portal: an agency lands on its tasks and answers them in the browser."""

from __future__ import annotations

import sqlalchemy as sa

from casework.models import AuditEvent, PlanTask
from tests.conftest import PASSWORD
from tests.helpers import case_in


def login(client, username: str):
    return client.post("/login", data={"username": username, "password": PASSWORD})


def status_of(db, task_id: int) -> str:
    with db.uow(readonly=True) as uow:
        return uow.session.get(PlanTask, task_id).status


def police_task(view) -> int:
    return next(t["id"] for t in view["tasks"] if t["agency_kind"] == "police")


def test_an_agency_lands_on_its_tasks_and_answers_them(client, db, people) -> None:
    view = case_in(db, people, "implementing")
    task_id = police_task(view)
    landing = login(client, "police")
    assert landing.status_code == 302
    assert client.get("/").location.endswith("/tasks")
    page = client.get("/tasks")
    assert page.status_code == 200 and view["reference"] in page.text
    assert "điều tra" in page.text  # the action asked
    assert "khám" not in page.text  # health's task is not the police's
    assert f'href="/tasks/{task_id}"' in page.text
    task_page = client.get(f"/tasks/{task_id}")
    # What the task needs: the child, where to find them, whom to call; not the case's history.
    assert "Nguyễn Thị Lan" in task_page.text and "Tổ 5" in task_page.text
    assert "Cán bộ phụ trách" in task_page.text and "Lịch sử" not in task_page.text
    # Before accepting, progress cannot be recorded: the form offers what applies now.
    assert 'value="accept"' in task_page.text and 'value="progress"' not in task_page.text
    accepted = client.post(f"/tasks/{task_id}", data={"action": "accept"})
    assert accepted.status_code == 302 and status_of(db, task_id) == "accepted"
    assert accepted.location.endswith(f"/tasks/{task_id}")
    no_word = client.post(f"/tasks/{task_id}", data={"action": "progress"})
    assert no_word.status_code == 422 and 'id="note-errors"' in no_word.text
    progress = client.post(
        f"/tasks/{task_id}", data={"action": "progress", "note": "đã lấy lời khai"}
    )
    assert progress.status_code == 302 and status_of(db, task_id) == "accepted"
    done = client.post(f"/tasks/{task_id}", data={"action": "complete", "note": "đã xong"})
    assert done.status_code == 302 and status_of(db, task_id) == "done"
    task_page = client.get(f"/tasks/{task_id}")
    answers = task_page.text.split("Các trả lời đã gửi")[1]
    assert answers.index("nhận thực hiện") < answers.index("đã lấy lời khai")
    assert answers.index("đã lấy lời khai") < answers.index("đã xong")
    assert "Nhiệm vụ này không cần trả lời thêm." in task_page.text
    page = client.get("/tasks")
    assert "Không có việc nào đang chờ cơ quan." in page.text


def test_declining_without_a_reason_is_refused_next_to_the_field(client, db, people) -> None:
    view = case_in(db, people, "implementing")
    task_id = police_task(view)
    login(client, "police")
    refused = client.post(f"/tasks/{task_id}", data={"action": "decline"})
    assert refused.status_code == 422
    assert 'id="note-errors"' in refused.text
    assert status_of(db, task_id) == "proposed"
    declined = client.post(
        f"/tasks/{task_id}", data={"action": "decline", "note": "không thuộc thẩm quyền"}
    )
    assert declined.status_code == 302 and status_of(db, task_id) == "declined"


def test_other_agencies_and_roles_get_not_found(client, db, people) -> None:
    view = case_in(db, people, "implementing")
    task_id = police_task(view)
    login(client, "police.2")
    assert view["reference"] not in client.get("/tasks").text
    assert client.get(f"/tasks/{task_id}").status_code == 404
    assert client.post(f"/tasks/{task_id}", data={"action": "accept"}).status_code == 404
    client.post("/logout")
    login(client, "officer")
    assert client.get("/tasks").status_code == 404
    assert client.post(f"/tasks/{task_id}", data={"action": "accept"}).status_code == 404
    assert status_of(db, task_id) == "proposed"
    client.post("/logout")
    assert client.get("/tasks").status_code == 302  # sign in first


def test_the_portal_in_english(client, db, people) -> None:
    case_in(db, people, "implementing")
    login(client, "police")
    page = client.get("/tasks?lang=en")
    assert "Tasks referred to us" in page.text and "To answer or to carry out" in page.text
    task_id = int(page.text.split('href="/tasks/')[1].split('"')[0])
    page = client.get(f"/tasks/{task_id}?lang=en")
    assert "Send the answer" in page.text and "Officer in charge" in page.text
    with db.uow(readonly=True) as uow:
        assert uow.session.scalar(sa.select(sa.func.count(PlanTask.id))) == 2


def test_reading_a_task_is_an_audited_read_of_the_child(client, db, people) -> None:
    view = case_in(db, people, "implementing")
    task_id = police_task(view)
    login(client, "police")
    with db.uow(readonly=True) as uow:
        before = uow.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "case.read")
        )
    assert client.get(f"/tasks/{task_id}").status_code == 200
    with db.uow(readonly=True) as uow:
        read = uow.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "case.read").order_by(AuditEvent.id)
        ).all()
    assert len(read) == before + 1 and read[-1].case_id == view["id"]


def test_tasks_of_a_closed_case_move_to_done_and_take_no_answer(client, db, people) -> None:
    view = case_in(db, people, "closed")
    login(client, "police")
    page = client.get("/tasks")
    done = page.text.split('id="tasks-done"')[1]
    assert view["reference"] in done
    task_id = int(done.split('href="/tasks/')[1].split('"')[0])
    assert "Nhiệm vụ này không cần trả lời thêm." in client.get(f"/tasks/{task_id}").text
    refused = client.post(f"/tasks/{task_id}", data={"action": "complete", "note": "x"})
    assert refused.status_code == 409
    assert "Không thể ghi nhận trả lời này" in refused.text  # in the reader's language
