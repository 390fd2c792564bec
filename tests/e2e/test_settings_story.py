"""An administrator changes a province's calendar and one of its deadlines in the browser,
and the next case's clock follows both: Debian's Chromium driven by Playwright against the
app served as the README serves it (two-step sign-in on). Pages photographed in both
languages under test-artifacts/admin-settings/."""

from __future__ import annotations

import json
import shutil
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest

from casework.calendar import WorkingCalendar
from casework.services import twofactor
from casework.services.users import create_token
from tests.conftest import PASSWORD, report_payload

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "admin-settings"
LOCAL = WorkingCalendar().tz


def photograph(page, name: str) -> None:
    """The page in Vietnamese and in English (the title changes language)."""
    assert page.locator("html").get_attribute("lang") == "vi"
    title = page.title()
    page.screenshot(path=SHOTS / f"{name}-vi.png", full_page=True)
    page.click("nav a[lang=en]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en" and page.title() != title
    page.screenshot(path=SHOTS / f"{name}-en.png", full_page=True)
    page.click("nav a[lang=vi]")
    page.wait_for_load_state()


def sign_in(page, server: str, username: str, secret: str | None = None) -> None:
    page.context.clear_cookies()
    page.goto(f"{server}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_load_state()
    if secret is not None:
        assert "/login/code" in page.url
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        page.click("main button[type=submit], main input[type=submit]")
        page.wait_for_load_state()
    assert "/login" not in page.url, username


@pytest.mark.slow
def test_a_day_off_and_a_provincial_deadline_reach_the_next_case(
    server, browser_page, db, people
) -> None:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    page = browser_page
    # The administrator has enrolled a second factor (a code taken a while ago).
    admin = people["admin"]
    secret = twofactor.begin_enrolment(db, admin.id)
    earlier = datetime.now(UTC) - timedelta(minutes=3)
    twofactor.confirm_enrolment(db, admin.id, pyotp.TOTP(secret).at(earlier), now=earlier)

    today = datetime.now(UTC).astimezone(LOCAL).date()
    national = WorkingCalendar()
    day_off = today + timedelta(days=1)
    while not national.is_working_day(day_off):
        day_off += timedelta(days=1)

    sign_in(page, server, "admin", secret)
    page.goto(f"{server}/admin")
    page.click("a[href='/admin/provinces']")
    page.wait_for_load_state()
    photograph(page, "01-provinces")
    page.click("a[href='/admin/provinces/48/calendar']")
    page.wait_for_load_state()
    page.fill("#day", day_off.isoformat())
    page.select_option("#day_kind", "off")
    page.fill("#note", "Nghỉ theo quyết định của UBND tỉnh")
    page.click("main form[method=post]:not([action]) button[type=submit]")
    page.wait_for_load_state()
    assert day_off.strftime("%d/%m/%Y") in page.content()
    photograph(page, "02-calendar")

    page.goto(f"{server}/admin/provinces/48/workflow")
    photograph(page, "03-workflow")
    page.click("a[href='/admin/provinces/48/workflow/case/initial_assessment']")
    page.wait_for_load_state()
    page.fill("#duration", "2")
    page.select_option("#duration_unit", "working_days")
    page.fill("#legal_source", "QĐ 704/QĐ-UBND")
    page.fill("#reason", "Tỉnh cho phép xác minh trong 2 ngày làm việc")
    assert page.input_value("#effective_on") == today.isoformat()  # today, offered
    page.click("section[aria-labelledby=new-version] button[type=submit]:not([name=add_row])")
    page.wait_for_load_state()
    content = page.content()
    assert "Phiên bản 1 của tỉnh" in content and "2 ngày làm việc" in content, page.locator(
        "main"
    ).inner_text()[-1500:]
    photograph(page, "04-rule")
    page.goto(f"{server}/admin/workflows/case/diagram")
    photograph(page, "05-diagram")

    # A report arrives through the API; its commune's officer opens the case.
    received = datetime.now(UTC) - timedelta(minutes=2)
    body = report_payload(received_at=received.astimezone(LOCAL).isoformat(timespec="seconds"))
    request = urllib.request.Request(
        f"{server}/api/v1/reports",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {create_token(db, 'intake')}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        case_id = json.load(answer)["case_id"]

    due = WorkingCalendar(days_off=[day_off]).add_working_days(received, 2)
    without_day_off = national.add_working_days(received, 2)
    assert due != without_day_off
    sign_in(page, server, "officer")
    page.goto(f"{server}/cases/{case_id}")
    clocks = page.locator("ul.clocks").inner_text()
    assert "Đánh giá ban đầu" in clocks
    assert due.astimezone(LOCAL).strftime("%d/%m/%Y 17:00") in clocks
    assert without_day_off.astimezone(LOCAL).strftime("%d/%m/%Y 17:00") not in clocks
    assert "QĐ 704/QĐ-UBND" in clocks
    photograph(page, "06-case-clock")
