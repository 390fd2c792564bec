"""Inbox pages and API, agency tasks over the API, the admin's refused-mail page, and the
in-process scheduler's once-per-server lock."""

from __future__ import annotations

import multiprocessing
import re
from pathlib import Path

import sqlalchemy as sa

from casework.deadlines import sweep
from casework.models import User
from tests.conftest import at
from tests.e2e.test_ui import login
from tests.helpers import case_in, open_case


def escalated_case(db, people):
    case = open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    sweep(db, at("2027-03-03T00:00:00"))
    return case


def test_inbox_page_and_unread_badge(client, db, people) -> None:
    case = escalated_case(db, people)
    login(client, "province")
    page = client.get("/inbox")
    assert page.status_code == 200
    assert "Chuyển cấp tỉnh" in page.text and case["reference"] in page.text
    assert 'unread-count">' in page.text  # the menu shows the unread count
    note_id = int(re.search(r"/inbox/(\d+)/read", page.text)[1])
    assert client.post(f"/inbox/{note_id}/read").status_code == 302
    assert client.post("/inbox/999999/read").status_code == 404


def test_case_page_shows_the_escalations(client, db, people) -> None:
    case = escalated_case(db, people)
    login(client, "officer")
    page = client.get(f"/cases/{case['id']}")
    assert "Nhắc hạn và chuyển cấp" in page.text and "Đã chuyển cấp tỉnh" in page.text


def test_notifications_api(api, db, people) -> None:
    escalated_case(db, people)
    body = api.get("/notifications", "chair").json
    assert body["unread"] == len(body["notifications"]) > 0
    first = body["notifications"][0]["id"]
    assert api.post(f"/notifications/{first}/read", "chair").status_code == 200
    assert api.get("/notifications?unread=1", "chair").json["unread"] == body["unread"] - 1
    # Someone else's notification is not found.
    assert api.post(f"/notifications/{first}/read", "province").status_code == 404


def test_agency_answers_tasks_over_the_api(api, db, people) -> None:
    case_in(db, people, "implementing")
    tasks = api.get("/tasks", "police").json["tasks"]
    assert [t["agency_kind"] for t in tasks] == ["police"]
    assert api.get("/tasks", "officer").json["tasks"] == []
    task = tasks[0]["id"]
    bad = api.post(f"/tasks/{task}", "police", {"action": "maybe"})
    assert bad.status_code == 422 and "action" in bad.json["fields"]
    extra = api.post(f"/tasks/{task}", "police", {"action": "accept", "when": "now"})
    assert extra.status_code == 422 and "when" in extra.json["fields"]
    assert api.post(f"/tasks/{task}", "police.2", {"action": "accept"}).status_code == 404
    ok = api.post(f"/tasks/{task}", "police", {"action": "accept"})
    assert ok.status_code == 200 and ok.json["status"] == "accepted"
    again = api.post(f"/tasks/{task}", "police", {"action": "accept"})
    assert again.status_code == 422


def test_admin_sees_refused_addresses_others_do_not(client, db, people) -> None:
    with db.uow() as uow:
        uow.session.execute(
            sa.update(User)
            .where(User.username == "province")
            .values(
                email="gone@example.org",
                email_failed_at=at("2027-03-01T10:00"),
                email_error="550 no such mailbox",
            )
        )
        uow.commit()
    login(client, "officer")
    assert client.get("/admin/mail-failures").status_code == 403
    client.post("/logout")
    login(client, "admin")
    page = client.get("/admin/mail-failures")
    assert page.status_code == 200 and "gone@example.org" in page.text and "550" in page.text


def _try_start(lock: str, queue) -> None:
    from casework.db import Database
    from casework.notify import SmtpSettings
    from casework.scheduler import start_in_process

    db = Database("sqlite://")
    queue.put(start_in_process(db, SmtpSettings(), 3600, Path(lock)))
    import time

    time.sleep(2)  # hold the lock while the others try


def test_only_one_process_per_server_runs_the_scheduler(tmp_path) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    lock = str(tmp_path / "scheduler.lock")
    workers = [context.Process(target=_try_start, args=(lock, queue)) for _ in range(3)]
    for worker in workers:
        worker.start()
    results = sorted(queue.get(timeout=30) for _ in workers)
    for worker in workers:
        worker.join()
    assert results == [False, False, True]
