"""Error pages (issue 10 §7): each status says, in the reader's language, what happened and
what to do — never Werkzeug's English page or a service's English message."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import abort

from casework.errors import Conflict, EventNotAllowed, PermissionDenied
from config import TestConfig
from tests.e2e.test_ui import login
from web import create_app

#: status -> (Vietnamese title, English title)
TITLES = {
    400: ("Yêu cầu không hợp lệ", "Bad request"),
    403: ("Không có quyền thực hiện", "Not permitted"),
    404: ("Không tìm thấy", "Not found"),
    405: ("Thao tác không hợp lệ", "Not allowed this way"),
    409: ("Hồ sơ đã được người khác cập nhật", "Changed by someone else"),
    413: ("Dữ liệu quá lớn", "Too large"),
    422: ("Không thực hiện được", "Cannot be done"),
    500: ("Đã xảy ra lỗi", "Something went wrong"),
    503: ("Tạm thời gián đoạn", "Temporarily unavailable"),
}
#: Werkzeug's and the services' English, which must not reach a page in Vietnamese.
ENGLISH = (
    "The requested URL",
    "The browser (or proxy)",
    "You don't have the permission",
    "The method is not allowed",
    "Request Entity Too Large",
    "Internal Server Error",
    "was changed by someone else",
    "Something is not right",
)


def _raise_conflict() -> None:
    raise Conflict("case 1 was changed by someone else (your version 1, current 2)")


def _raise_denied() -> None:
    raise PermissionDenied("role 'officer' may not fire 'approve_plan'")


def _raise_not_allowed() -> None:
    raise EventNotAllowed("guard refused: Art. 28(1)")


def _raise_bug() -> None:
    raise RuntimeError("a bug")


def _raise_database_down() -> None:
    raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))


@pytest.fixture
def errors_app(db):
    class Served(TestConfig):
        PROPAGATE_EXCEPTIONS = False  # as served: a bug is a 500 page, not a traceback

    app = create_app(Served, db=db)
    for name, view in {
        "conflict": _raise_conflict,
        "denied": _raise_denied,
        "not-allowed": _raise_not_allowed,
        "bug": _raise_bug,
        "down": _raise_database_down,
        "bad": lambda: abort(400),
    }.items():
        app.add_url_rule(f"/test-errors/{name}", f"test_errors_{name}", view)
    return app


def answer(client, status: int, lang: str):
    suffix = f"?lang={lang}"
    if status == 400:
        return client.get(f"/test-errors/bad{suffix}")
    if status == 403:
        return client.get(f"/admin/mail-failures{suffix}")
    if status == 404:
        return client.get(f"/cases/999999{suffix}")
    if status == 405:
        return client.get(f"/inbox/read-all{suffix}")
    if status == 409:
        return client.get(f"/test-errors/conflict{suffix}")
    if status == 413:
        return client.post(f"/inbox/read-all{suffix}", data={"x": "y" * (2 * 1024 * 1024)})
    if status == 422:
        return client.get(f"/test-errors/not-allowed{suffix}")
    if status == 500:
        return client.get(f"/test-errors/bug{suffix}")
    return client.get(f"/test-errors/down{suffix}")


@pytest.mark.parametrize("status", sorted(TITLES))
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_each_error_page_in_each_language(errors_app, db, people, status, lang) -> None:
    client = errors_app.test_client()
    login(client, "officer")
    page = answer(client, status, lang)
    assert page.status_code == status
    vi, en = TITLES[status]
    assert (vi if lang == "vi" else en) in page.text
    assert f'lang="{lang}"' in page.text
    if lang == "vi":
        assert en not in page.text
        for english in ENGLISH:
            assert english not in page.text
    else:
        assert vi not in page.text


def test_a_405_still_names_the_allowed_methods(errors_app, db, people) -> None:
    client = errors_app.test_client()
    login(client, "officer")
    assert "POST" in client.get("/inbox/read-all").headers["Allow"]


def test_a_503_asks_to_retry_later(errors_app, db, people) -> None:
    client = errors_app.test_client()
    login(client, "officer")
    assert client.get("/test-errors/down").headers["Retry-After"] == "30"


def test_the_input_gate_names_the_field_in_the_readers_language(client, db, people) -> None:
    login(client, "officer")
    page = client.get("/inbox?before=%00")
    assert page.status_code == 400
    assert "Yêu cầu không hợp lệ" in page.text and "ký tự điều khiển" in page.text


def test_the_api_keeps_its_json_errors(api, db, people) -> None:
    answer = api.get("/cases/999999", "officer")
    assert answer.status_code == 404 and answer.json["error"]


def test_a_refused_parameter_is_named_in_both_languages(client, db, people) -> None:
    login(client, "officer")
    page = client.get("/inbox?before=abc")
    assert page.status_code == 422 and "Cần kiểm tra lại: before" in page.text
    english = client.get("/inbox?before=abc&lang=en")
    assert "before: must be a whole number" in english.text
