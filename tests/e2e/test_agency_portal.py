"""The agency portal: an agency lands on its tasks and answers them in the browser."""

from __future__ import annotations

import sqlalchemy as sa

from casework.models import PlanTask
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
    accepted = client.post(f"/tasks/{task_id}", data={"action": "accept"})
    assert accepted.status_code == 302 and status_of(db, task_id) == "accepted"
    done = client.post(f"/tasks/{task_id}", data={"action": "complete", "note": "đã xong"})
    assert done.status_code == 302 and status_of(db, task_id) == "done"
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
    assert "Tasks referred to us" in page.text and "Send the answer" in page.text
    with db.uow(readonly=True) as uow:
        assert uow.session.scalar(sa.select(sa.func.count(PlanTask.id))) == 2
