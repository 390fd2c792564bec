"""The inbox page (issue 10 §6): one block per case, a deadline's reminder and overdue as
one item with the clock's due time, pages, mark one and all read, every text in the
reader's language at the time of reading."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from casework.deadlines import sweep
from casework.models import Deadline, FiredRung, Notification, User
from config import TestConfig
from tests.conftest import at
from tests.e2e.test_ui import login
from tests.helpers import open_case
from web import create_app
from web.labels import localtime

NAMES = ("Lan", "Mai", "Hoa", "Cúc", "Đào", "Huệ", "Linh", "Ngọc", "Trang", "Vy", "Yến", "Thu")


def new_case(db, people, day: int = 1):
    """A case of its own: each day's report is on another child (born another year, so
    that close names are not taken for a possible match)."""
    child = {
        "full_name": f"Nguyễn Thị {NAMES[day - 1]}",
        "sex": "female",
        "birth_date": f"{2011 + day}-05-01",
        "unit_code": "20194",
        "address": "Tổ 5",
    }
    return open_case(db, people, received_at=f"2027-03-{day:02d}T08:00:00+07:00", child=child)


def overdue_case(db, people, day: int = 1):
    case = new_case(db, people, day)
    sweep(db, at(f"2027-03-{day:02d}T20:00:00"))  # assignment: reminded, then overdue
    return case


def unread(db, username: str) -> int:
    with db.uow(readonly=True) as uow:
        user_id = uow.session.scalar(sa.select(User.id).where(User.username == username))
        return int(
            uow.session.scalar(
                sa.select(sa.func.count()).where(
                    Notification.user_id == user_id, Notification.read_at.is_(None)
                )
            )
        )


def blocks(page: str) -> list[str]:
    return re.findall(r'<section class="card mb-3 inbox-case"', page)


def test_one_block_per_case_and_one_item_per_deadline(client, db, people) -> None:
    first, second = overdue_case(db, people, 1), overdue_case(db, people, 2)
    login(client, "chair")
    page = client.get("/inbox").text
    assert len(blocks(page)) == 2
    assert page.index(second["reference"]) < page.index(first["reference"])  # newest first
    # Reminder and overdue of the assignment: one item, in its latest state.
    assert page.count("QUÁ HẠN: phân công xử lý") == 2  # one per case
    assert "Sắp đến hạn: phân công xử lý" not in page
    assert "Đã nhắc hạn" in page and "Quá hạn" in page  # the item's history of rungs
    assert "Ca được chuyển đến địa bàn" in page  # the case's arrival, in the same block
    assert f"[{first['reference']}]" not in page  # the block names the case, not each item
    badge = int(re.search(r'unread-count">(\d+)<', page)[1])
    assert badge == page.count('class="list-group-item inbox-unread"') < unread(db, "chair")


def test_an_item_shows_the_clocks_due_time_not_the_sweep_time(client, db, people) -> None:
    case = overdue_case(db, people)
    with db.uow(readonly=True) as uow:
        due = uow.session.scalar(
            sa.select(Deadline.due_at).where(
                Deadline.case_id == case["id"], Deadline.rule == "assignment"
            )
        )
    login(client, "chair")
    page = client.get("/inbox").text
    assert f"<strong>{localtime(due)}</strong>" in page
    assert re.search(r"badge text-bg-\w+\">(đang chạy|quá hạn)</span>", page)  # its state now


def test_texts_follow_the_readers_language_at_reading_time(client, db, people) -> None:
    case = overdue_case(db, people)
    login(client, "chair")  # a Vietnamese user: the notices were written in Vietnamese
    page = client.get("/inbox?lang=en").text
    assert "<strong>OVERDUE: assignment</strong>" in page and f"Case {case['reference']}" in page
    assert "A case was transferred to your commune" in page
    assert "QUÁ HẠN" not in page and "Ca được chuyển" not in page
    assert "Mark all as read" in page and "Notifications" in page


def test_pages_of_cases(client, db, people) -> None:
    references = [new_case(db, people, day)["reference"] for day in range(1, 12)]
    login(client, "officer")
    first = client.get("/inbox").text
    assert len(blocks(first)) == 10 and references[0] not in first
    older = re.search(r'href="(/inbox\?before=\d+)"', first)
    assert older is not None
    second = client.get(older[1].replace("&amp;", "&")).text
    assert len(blocks(second)) == 1 and references[0] in second
    assert "?before=" not in second  # the last page


@pytest.mark.parametrize("before", ["abc", "0", "-1", "99999999999999"])
def test_a_bad_page_marker_is_refused(client, db, people, before) -> None:
    login(client, "officer")
    assert client.get(f"/inbox?before={before}").status_code == 422
    assert client.get("/inbox?page=2").status_code == 422  # an unknown parameter


def test_mark_one_read_reads_the_whole_deadline_item(client, db, people) -> None:
    overdue_case(db, people)
    login(client, "chair")
    page = client.get("/inbox").text
    before = unread(db, "chair")
    with db.uow(readonly=True) as uow:
        item = uow.session.scalar(
            sa.select(Notification.id)
            .join(FiredRung, FiredRung.id == Notification.fired_rung_id)
            .join(Deadline, Deadline.id == FiredRung.deadline_id)
            .where(
                Notification.user_id == people["chair"].id,
                Deadline.rule == "assignment",
                FiredRung.rung == "overdue",
            )
        )
    assert f"/inbox/{item}/read" in page  # the item's button names its latest notice
    assert client.post(f"/inbox/{item}/read").status_code == 302
    assert unread(db, "chair") == before - 2  # the reminder and the overdue of that step


def test_mark_all_read(client, db, people) -> None:
    overdue_case(db, people)
    login(client, "chair")
    assert unread(db, "chair") > 0
    answer = client.post("/inbox/read-all", follow_redirects=True)
    assert answer.status_code == 200
    assert "Đã đánh dấu đã đọc" in answer.text
    assert unread(db, "chair") == 0 and 'unread-count">' not in answer.text
    assert "Mark all as read" not in answer.text and "Đánh dấu tất cả" not in answer.text
    # Someone else's notices are untouched.
    assert unread(db, "officer") > 0


def test_mark_all_read_leaves_what_arrived_since(client, db, people) -> None:
    overdue_case(db, people, 1)
    login(client, "chair")
    newest = int(re.search(r'name="up_to" value="(\d+)"', client.get("/inbox").text)[1])
    overdue_case(db, people, 2)  # arrives while the page is open
    client.post("/inbox/read-all", data={"up_to": str(newest)})
    with db.uow(readonly=True) as uow:
        left = uow.session.scalars(
            sa.select(Notification.id).where(
                Notification.user_id == people["chair"].id, Notification.read_at.is_(None)
            )
        ).all()
    assert left and min(left) > newest


def test_flash_in_english(client, db, people) -> None:
    overdue_case(db, people)
    login(client, "chair")
    client.get("/lang/en")
    answer = client.post("/inbox/read-all", follow_redirects=True)
    assert "Notifications marked as read:" in answer.text


def test_someone_elses_notification_is_not_found(client, db, people) -> None:
    overdue_case(db, people)
    with db.uow(readonly=True) as uow:
        theirs = uow.session.scalar(
            sa.select(Notification.id).where(Notification.user_id == people["chair"].id)
        )
    login(client, "officer.2")
    answer = client.post(f"/inbox/{theirs}/read")
    assert answer.status_code == 404 and "Không tìm thấy" in answer.text
    assert unread(db, "chair") > 0


def test_the_inbox_needs_sign_in_and_says_so_in_the_readers_language(client) -> None:
    answer = client.get("/inbox")
    assert answer.status_code == 302 and "/login" in answer.location
    assert "Vui lòng đăng nhập để mở trang này." in client.get(answer.location).text
    assert client.post("/inbox/read-all").status_code == 302
    client.get("/lang/en")
    login_page = client.get(client.get("/inbox").location).text
    assert "Please sign in to open this page." in login_page
    assert "Please log in to access this page" not in login_page


def test_inbox_posts_need_the_csrf_token(db, people) -> None:
    class WithCsrf(TestConfig):
        WTF_CSRF_ENABLED = True

    overdue_case(db, people)
    client = create_app(WithCsrf, db=db).test_client()
    page = client.get("/login").text
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', page
    )
    assert token is not None
    value = token[1] or token[2]
    client.post("/login", data={"username": "chair", "password": "x", "csrf_token": value})
    from tests.conftest import PASSWORD

    client.post("/login", data={"username": "chair", "password": PASSWORD, "csrf_token": value})
    before = unread(db, "chair")
    answer = client.post("/inbox/read-all")
    assert answer.status_code == 400 and "Biểu mẫu không được chấp nhận" in answer.text
    assert client.post("/inbox/1/read").status_code == 400
    assert unread(db, "chair") == before
    english = client.post("/inbox/read-all?lang=en")
    assert english.status_code == 400 and "The form was not accepted" in english.text


def test_empty_inbox_in_both_languages(client, db, people) -> None:
    login(client, "admin")
    assert "Không có thông báo." in client.get("/inbox").text
    assert "No notifications." in client.get("/inbox?lang=en").text


def test_an_agency_sees_its_new_task_and_when_it_is_due(client, db, people) -> None:
    from tests.helpers import case_in

    view = case_in(db, people, "implementing")
    login(client, "police")
    page = client.get("/inbox").text
    assert "Nhiệm vụ mới: nhiệm vụ của công an" in page and view["reference"] in page
    assert "<strong>31/12/2027</strong>" in page  # the task's due date from the plan
    assert "Lan" not in page  # the child's name is nowhere in the inbox
    english = client.get("/inbox?lang=en").text
    assert "New task: task for police" in english
