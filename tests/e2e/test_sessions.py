"""Web sessions end on the server: a copy of the cookie opens nothing once its session has
ended (sign-out, the user disabled, the password changed, idle or too old)."""

from __future__ import annotations

import time_machine
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, at
from tests.helpers import open_case

NEW_PASSWORD = "a-new-and-longer-password"


def login(client: FlaskClient, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def copy_of_cookie(app, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of `client`'s session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    other = app.test_client()
    other.set_cookie("session", cookie.value)
    return other


def signed_out(response) -> bool:
    return response.status_code == 302 and response.location.startswith("/login")


def test_a_cookie_copied_before_logout_opens_nothing_after(app, client, db, people) -> None:
    case = open_case(db, people)
    assert login(client, "officer").status_code == 302
    copy = copy_of_cookie(app, client)
    assert copy.get(f"/cases/{case['id']}").status_code == 200  # the same session, for now
    client.post("/logout")
    assert signed_out(copy.get(f"/cases/{case['id']}"))
    assert signed_out(copy.get("/"))
    assert "Nguyễn Thị Lan" not in copy.get("/", follow_redirects=True).text
    assert copy.get("/api/v1/cases").status_code == 401  # the API never took cookies
    assert signed_out(client.get("/"))


def test_disabling_a_user_ends_their_sessions_for_good(client, db, people) -> None:
    from casework.services.users import set_active

    case = open_case(db, people)
    login(client, "officer")
    assert client.get(f"/cases/{case['id']}").status_code == 200
    set_active(db, "officer", False, actor=people["admin"])
    assert signed_out(client.get(f"/cases/{case['id']}"))
    set_active(db, "officer", True, actor=people["admin"])
    # Enabled again, the user signs in again: the old session stays ended.
    assert signed_out(client.get(f"/cases/{case['id']}"))
    assert login(client, "officer").status_code == 302
    assert client.get(f"/cases/{case['id']}").status_code == 200


def test_changing_the_password_ends_the_other_sessions(app, db, people) -> None:
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, "officer")
    login(phone, "officer")
    changed = laptop.post(
        "/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert laptop.get("/").status_code == 200  # the session that changed it stays
    assert signed_out(phone.get("/"))
    assert login(phone, "officer").status_code == 401  # the old password is gone
    assert login(phone, "officer", NEW_PASSWORD).status_code == 302


import pytest  # noqa: E402

BAD_CHANGES = [
    ({"current_password": "not-my-password", "new_password": NEW_PASSWORD}, "Đây không phải"),
    ({"current_password": PASSWORD, "new_password": "short"}, "Từ 12 đến 200 ký tự."),
    ({"current_password": PASSWORD, "new_password": "x" * 201}, "Từ 12 đến 200 ký tự."),
    (
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": "other-one-x"},
        "không khớp",
    ),
    ({"current_password": "", "new_password": NEW_PASSWORD}, "Không được để trống."),
]


@pytest.mark.parametrize(("form", "message"), BAD_CHANGES)
def test_a_refused_password_change_changes_nothing(app, db, people, form, message) -> None:
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, "officer")
    login(phone, "officer")
    answer = laptop.post("/password", data={"confirm": form["new_password"], **form})
    assert answer.status_code == 400 and message in answer.text
    assert phone.get("/").status_code == 200  # no session ended
    client = app.test_client()
    assert login(client, "officer").status_code == 302  # the password is unchanged


def test_the_password_page_needs_sign_in(client) -> None:
    assert signed_out(client.get("/password"))


def test_a_session_ends_after_30_idle_minutes(client, db, people) -> None:
    with time_machine.travel(at("2027-03-01T08:00:00"), tick=False) as traveller:
        login(client, "officer")
        traveller.move_to(at("2027-03-01T08:29:00"))
        assert client.get("/").status_code == 200
        traveller.move_to(at("2027-03-01T08:59:00"))  # 30 minutes since the last request
        assert signed_out(client.get("/"))
        traveller.move_to(at("2027-03-01T08:59:01"))
        assert signed_out(client.get("/"))


def test_a_session_ends_8_hours_after_sign_in_however_busy(client, db, people) -> None:
    with time_machine.travel(at("2027-03-01T08:00:00"), tick=False) as traveller:
        login(client, "officer")
        for minutes in range(20, 8 * 60, 20):
            traveller.move_to(at(f"2027-03-01T{8 + minutes // 60:02d}:{minutes % 60:02d}:00"))
            assert client.get("/").status_code == 200, minutes
        traveller.move_to(at("2027-03-01T16:00:00"))
        assert signed_out(client.get("/"))


def test_timeouts_are_settings(db, people) -> None:
    from config import TestConfig
    from web import create_app

    class Short(TestConfig):
        SESSION_IDLE_MINUTES = 5
        SESSION_MAX_HOURS = 1

    client = create_app(Short, db=db).test_client()
    with time_machine.travel(at("2027-03-01T08:00:00"), tick=False) as traveller:
        login(client, "officer")
        traveller.move_to(at("2027-03-01T08:04:00"))
        assert client.get("/").status_code == 200
        traveller.move_to(at("2027-03-01T08:09:00"))
        assert signed_out(client.get("/"))
