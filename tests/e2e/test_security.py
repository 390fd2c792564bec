"""Headers every answer carries, the cookies' flags, and where /lang may send a browser."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from config import TestConfig
from tests.conftest import PASSWORD
from tests.helpers import open_case
from web import create_app

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)


def assert_security_headers(response) -> None:
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/login", "/no-such-page", "/api/v1/cases", "/api/v1/nothing"])
def test_pages_api_answers_and_errors_carry_the_security_headers(client, path) -> None:
    assert_security_headers(client.get(path))


def test_a_case_page_and_its_api_answer_are_never_cached(client, api, db, people) -> None:
    case = open_case(db, people)
    assert_security_headers(api.get(f"/cases/{case['id']}", "officer"))
    client.post("/login", data={"username": "officer", "password": PASSWORD})
    page = client.get(f"/cases/{case['id']}")
    assert page.status_code == 200
    assert_security_headers(page)


def test_static_files_may_be_cached_but_are_not_sniffed(client) -> None:
    css = client.get("/static/casework.css")
    assert css.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" not in css.headers.get("Cache-Control", "")


def session_cookie(response) -> str:
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return cookie


def test_session_cookie_flags_and_secure_only_when_configured(db, people) -> None:
    class OverTls(TestConfig):
        SECURE_COOKIES = True

    login = {"username": "officer", "password": PASSWORD}
    plain = session_cookie(create_app(TestConfig, db=db).test_client().post("/login", data=login))
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    tls = session_cookie(create_app(OverTls, db=db).test_client().post("/login", data=login))
    assert "HttpOnly" in tls and "SameSite=Lax" in tls and "; Secure" in tls


@pytest.mark.parametrize(
    ("base_url", "secure"),
    [("https://casework.example.gov.vn", "True"), ("http://127.0.0.1:5000", "False")],
)
def test_secure_cookies_follow_an_https_base_url(base_url, secure, tmp_path) -> None:
    env = {
        **os.environ,
        "CASEWORK_BASE_URL": base_url,
        "CASEWORK_SECRET_KEY": "x",
        "CASEWORK_INSTANCE_DIR": str(tmp_path),
    }
    env.pop("CASEWORK_SECURE_COOKIES", None)
    out = subprocess.run(
        [sys.executable, "-c", "from config import Config; print(Config.SECURE_COOKIES)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == secure


@pytest.mark.parametrize(
    "referer",
    [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "http://evil.example/cases/1",
        "javascript:alert(1)",
        "https://localhost.evil.example/",
    ],
)
def test_language_switch_never_redirects_off_the_site(client, referer) -> None:
    response = client.get("/lang/en", headers={"Referer": referer})
    assert response.status_code == 302 and response.location == "/"


def test_language_switch_returns_to_the_page_it_was_on(client) -> None:
    response = client.get("/lang/en", headers={"Referer": "http://localhost/cases/7?page=2"})
    assert response.status_code == 302 and response.location == "/cases/7?page=2"
    assert client.get("/login").text.count("Sign in") >= 1


def test_a_part_of_a_page_asked_for_after_sign_out_takes_the_whole_page_to_sign_in(
    client,
) -> None:
    plain = client.get("/inbox")
    assert plain.status_code == 302 and "/login" in plain.location
    part = client.get("/inbox", headers={"HX-Request": "true"})
    assert part.status_code == 401
    assert part.headers["HX-Redirect"].startswith("/login")
    assert part.headers["Content-Security-Policy"]  # still carries the security headers
