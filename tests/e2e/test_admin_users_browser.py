"""An administrator manages an account in the browser (Debian's Chromium driven by
Playwright, against the app served as the README serves it, two factors required): creates
a user, who signs in with the password given and must change it first; then disables the
user, whose next sign-in is refused. Each page photographed in both languages under
test-artifacts/admin-users/."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest

from casework.clock import utcnow
from casework.services import twofactor
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "admin-users"
INITIAL = "initial-password-2027"
CHOSEN = "my-own-password-2027"


def photograph(page, name: str) -> None:
    """This page in Vietnamese and in English (the language link), then back."""
    assert page.locator("html").get_attribute("lang") == "vi"
    page.screenshot(path=SHOTS / f"{name}-vi.png", full_page=True)
    page.click("nav a[lang=en]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    page.screenshot(path=SHOTS / f"{name}-en.png", full_page=True)
    page.click("nav a[lang=vi]")
    page.wait_for_load_state()


def sign_in(page, server: str, username: str, password: str, code: str | None = None) -> None:
    page.context.clear_cookies()
    page.goto(f"{server}/login?lang=vi")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit")
    page.wait_for_load_state()
    if code is not None:
        assert "/login/code" in page.url
        page.fill("#code", code)
        page.click("main [type=submit]")
        page.wait_for_load_state()


@pytest.mark.slow
def test_an_administrator_creates_then_disables_a_user_in_the_browser(
    server, browser_page, db, people
) -> None:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    # The administrator enrolled a minute ago (the code of now is still to be taken).
    admin = people["admin"]
    secret = twofactor.begin_enrolment(db, admin.id)
    earlier = utcnow() - timedelta(seconds=90)
    recovery = twofactor.confirm_enrolment(db, admin.id, pyotp.TOTP(secret).at(earlier), earlier)

    sign_in(page, server, "admin", PASSWORD, pyotp.TOTP(secret).now())
    page.goto(f"{server}/admin")
    page.click("a[href='/admin/users']")
    page.wait_for_load_state()
    photograph(page, "01-users")
    page.click("a[href='/admin/users/new']")
    page.wait_for_load_state()
    photograph(page, "02-new-user")
    page.fill("#username", "newcomer")
    page.fill("#full_name", "Lê Thị Mới")
    page.select_option("#role", "officer")
    page.type("#unit-q", "hai chau")
    page.click("[data-unit-code='20194']")
    assert page.input_value("#unit") == "20194"
    page.fill("#password", INITIAL)
    page.screenshot(path=SHOTS / "02-new-user-filled-vi.png", full_page=True)
    page.click("main form [type=submit]")
    page.wait_for_load_state()
    assert "newcomer" in page.text_content("main")
    photograph(page, "03-created")

    # The newcomer signs in with the password given and must choose another first.
    sign_in(page, server, "newcomer", INITIAL)
    assert page.url.endswith("/password")
    page.goto(f"{server}/")
    assert page.url.endswith("/password")  # nothing else before the change
    photograph(page, "04-forced-change")
    page.fill("#current_password", INITIAL)
    page.fill("#new_password", CHOSEN)
    page.fill("#confirm", CHOSEN)
    page.click("main form [type=submit]")
    page.wait_for_load_state()
    assert not page.url.endswith("/password") and "/login" not in page.url

    # The administrator disables the account (its code of now was taken: a recovery code).
    sign_in(page, server, "admin", PASSWORD, recovery[0])
    page.goto(f"{server}/admin/users/newcomer")
    photograph(page, "05-account")
    page.click("form[action='/admin/users/newcomer/disable'] [type=submit]")
    page.wait_for_load_state()
    assert page.url.endswith("/admin/users/newcomer")
    photograph(page, "06-disabled")

    # The newcomer's sign-in is refused now, with the one message for every failure.
    sign_in(page, server, "newcomer", CHOSEN)
    assert "/login" in page.url
    assert page.locator(".alert-danger, .error, [role=alert]").count() >= 1
    page.screenshot(path=SHOTS / "07-refused-vi.png", full_page=True)
