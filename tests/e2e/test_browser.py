"""A person's path through the pages, in Debian's Chromium driven by Playwright, against the
app served by gunicorn (`casework serve`) on loopback."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from casework.deadlines import sweep
from tests.conftest import PASSWORD, at
from tests.helpers import open_case

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser_page():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if os.environ.get("CASEWORK_REQUIRE_BROWSER"):
            pytest.fail("Debian's chromium is missing: ./scripts/test installs it")
        pytest.skip("Debian's chromium is not installed (./scripts/test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        yield page
        browser.close()


def test_officer_signs_in_sees_the_case_and_its_escalation(
    server, browser_page, db, people
) -> None:
    case = open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    sweep(db, at("2027-03-03T00:00:00"))
    page = browser_page
    page.goto(f"{server}/login")
    assert page.locator("h1").inner_text() == "Đăng nhập"
    page.fill("#username", "officer")
    page.fill("#password", "wrong password!")
    page.click("#submit")
    assert "Sai tên đăng nhập hoặc mật khẩu" in page.locator("[role=alert]").inner_text()
    page.fill("#username", "officer")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(f"{server}/")
    page.click(f"text={case['reference']}")
    assert page.locator("h1").inner_text() == f"Ca {case['reference']}"
    assert "Đã chuyển cấp tỉnh" in page.content()
    badge = page.locator("#site-menu .badge").inner_text()
    assert int(badge) > 0
    page.click("text=Thông báo")
    assert page.locator("li.inbox-unread").count() == int(badge)  # one item per deadline
    page.locator("li.inbox-unread button").first.click()
    assert page.locator("#site-menu .badge").inner_text() == str(int(badge) - 1)
    page.click("text=English")
    assert page.locator("h1").inner_text() == "Notifications"
