"""Two-step sign-in in the browser, as a province officer meets it the first time: Debian's
Chromium driven by Playwright against the app served as the README serves it (two factors
required for province staff). Pages photographed in both languages under
test-artifacts/two-factor/."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest

from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "two-factor"


def photograph(page, name: str) -> None:
    """The page in Vietnamese and in English, back in Vietnamese afterwards."""
    assert page.locator("html").get_attribute("lang") == "vi"
    page.screenshot(path=SHOTS / f"{name}-vi.png", full_page=True)
    page.click("nav a[lang=en]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    page.screenshot(path=SHOTS / f"{name}-en.png", full_page=True)
    page.click("nav a[lang=vi]")
    page.wait_for_load_state()


def password_step(page, server: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{server}/login")
    page.fill("#username", "province")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_load_state()


def submit_code(page, code: str) -> None:
    page.fill("input[name=code]", code)
    page.click("main button[type=submit], main input[type=submit]")
    page.wait_for_load_state()


@pytest.mark.slow
def test_a_province_officer_enrols_then_signs_in_with_a_code_and_a_recovery_code(
    server, browser_page, people
) -> None:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})

    # The password alone leads to the enrolment page, and nowhere else.
    password_step(page, server)
    assert page.url.endswith("/account/two-factor")
    page.goto(f"{server}/dashboard")
    assert page.url.endswith("/account/two-factor")
    photograph(page, "enrol")
    qr = page.locator("img.qr-code")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # drawn here, not fetched
    secret = page.locator("code.totp-secret").inner_text().replace(" ", "")

    submit_code(page, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert page.locator(".error, .invalid-feedback").count() >= 1  # a wrong code: told so
    submit_code(page, pyotp.TOTP(secret).now())
    codes = [c.inner_text() for c in page.locator("ul.recovery-codes code").all()]
    assert len(codes) >= 8 and len(set(codes)) == len(codes)
    page.screenshot(path=SHOTS / "recovery-codes-vi.png", full_page=True)
    page.click("main a.btn-primary")  # "I have kept them: continue"
    page.wait_for_load_state()
    assert "/account/two-factor" not in page.url and "/login" not in page.url

    # Next sign-in: the password, then a recovery code (the app's code of this 30 s was
    # just used, and a code is accepted once).
    password_step(page, server)
    assert "/login/code" in page.url
    photograph(page, "second-step")
    submit_code(page, codes[0])
    assert "/login" not in page.url

    # The same recovery code a second time: refused, still on the second step.
    password_step(page, server)
    submit_code(page, codes[0])
    assert "/login/code" in page.url

    # The app's next code signs in.
    later = datetime.now(UTC) + timedelta(seconds=30)
    submit_code(page, pyotp.TOTP(secret).at(later))
    assert "/login" not in page.url
    page.goto(f"{server}/dashboard")
    assert page.url.endswith("/dashboard")
