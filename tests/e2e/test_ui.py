"""The minimal web pages: sign in, the scoped case list, one case, both languages."""

from __future__ import annotations

from tests.conftest import PASSWORD
from tests.helpers import open_case


def login(client, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def test_login_page_is_vietnamese_by_default(client) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert "Đăng nhập" in page.text and 'lang="vi"' in page.text


def test_english_on_request(client) -> None:
    page = client.get("/login?lang=en")
    assert "Sign in" in page.text and "Đăng nhập" not in page.text


def test_wrong_password_is_refused(client, people) -> None:
    page = login(client, "officer", "wrong-password")
    assert page.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in page.text
    assert client.get("/").status_code == 302  # still signed out


def test_case_list_shows_only_the_users_commune(client, db, people) -> None:
    case = open_case(db, people)
    assert login(client, "officer").status_code == 302
    page = client.get("/")
    assert case["reference"] in page.text
    detail = client.get(f"/cases/{case['id']}")
    assert detail.status_code == 200 and "Nguyễn Thị Lan" in detail.text
    assert "Đã chuyển về xã" in detail.text  # the state, translated
    client.post("/logout")
    login(client, "officer.2")
    assert case["reference"] not in client.get("/").text
    assert client.get(f"/cases/{case['id']}").status_code == 404


def test_pages_need_sign_in(client) -> None:
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.location


def test_login_form_has_csrf_protection(db) -> None:
    from config import TestConfig
    from web import create_app

    class WithCsrf(TestConfig):
        WTF_CSRF_ENABLED = True

    client = create_app(WithCsrf, db=db).test_client()
    response = client.post("/login", data={"username": "officer", "password": PASSWORD})
    assert response.status_code == 400


def test_static_css_is_served_locally(client) -> None:
    page = client.get("/login")
    assert "/static/casework.css" in page.text
    assert client.get("/static/casework.css").status_code == 200
    assert "http://" not in page.text and "https://" not in page.text


def test_every_ui_string_has_a_vietnamese_translation() -> None:
    from pathlib import Path

    from babel.messages.extract import extract_from_dir
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    web = Path(__file__).resolve().parents[2] / "web"
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    ids = {
        message
        for _, _, message, _, _ in extract_from_dir(
            str(web), method_map, keywords={"_": None, "_l": None, "gettext": None}
        )
    }
    with open(web / "translations/vi/LC_MESSAGES/messages.po", "rb") as handle:
        po = read_po(handle)
    with open(web / "translations/vi/LC_MESSAGES/messages.mo", "rb") as handle:
        mo = read_mo(handle)
    missing = sorted(i for i in ids if not (po.get(i) and po.get(i).string))
    assert missing == []
    assert [m.id for m in po if m.fuzzy] == []  # a fuzzy guess is not a translation
    stale = sorted(i for i in ids if not (mo.get(i) and mo.get(i).string == po.get(i).string))
    assert stale == [], "run: pybabel compile -d web/translations"


import pytest  # noqa: E402

BAD_LOGINS = [
    ({"username": "", "password": PASSWORD}, "Không được để trống."),
    ({"username": "officer", "password": ""}, "Không được để trống."),
    ({"username": "x" * 81, "password": PASSWORD}, "Quá dài."),
    ({}, "Không được để trống."),
]


@pytest.mark.parametrize(("form", "message"), BAD_LOGINS)
def test_bad_login_form_is_400_with_the_field_marked(client, people, form, message) -> None:
    page = client.post("/login", data=form)
    assert page.status_code == 400
    assert f'<span class="error">{message}</span>' in page.text
    assert client.get("/").status_code == 302  # not signed in
