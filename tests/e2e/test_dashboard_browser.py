"""Issue 11, done when: a province officer signs in (with two factors), sees on one page
everything in the province that is late, opens it and moves it on — here in Chromium
against the served app: after a sweep the overdue case is on the dashboard, the tile leads
to the list, the case is reassigned from the list, and its page names the new officer.
Screenshots in both languages under test-artifacts/dashboard/."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest

from casework.clock import LOCAL_TZ, utcnow
from casework.deadlines import sweep
from casework.services import twofactor
from tests.conftest import PASSWORD
from tests.helpers import open_case

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "dashboard"


@pytest.mark.slow
def test_the_province_sees_an_overdue_case_drills_down_and_reassigns_it(
    server, browser_page, db, people
) -> None:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    now = utcnow()
    # A report received two days ago (the server's clock is the real one): its assignment
    # and initial-assessment clocks have passed; the sweep fires their rungs.
    received = (now - timedelta(days=2)).astimezone(LOCAL_TZ).replace(microsecond=0)
    case = open_case(
        db,
        people,
        now=now - timedelta(days=2) + timedelta(minutes=5),
        received_at=received.isoformat(),
    )
    sweep(db, now)
    # The province officer's second factor, enrolled with the code of the previous step.
    province = people["province"]
    secret = twofactor.begin_enrolment(db, province.id)
    earlier = now - timedelta(seconds=30)
    twofactor.confirm_enrolment(db, province.id, pyotp.TOTP(secret).at(earlier), now=earlier)

    page, base = browser_page, server
    page.set_viewport_size({"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/login")
    page.fill("#username", "province")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_load_state()
    assert "/login/code" in page.url
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/login" not in page.url, page.locator("main").inner_text()

    page.goto(f"{base}/dashboard")
    overdue = page.locator("a.tile-overdue")
    assert int(overdue.locator(".display-6").inner_text()) >= 1
    assert page.locator("img.chart-image").count() >= 2
    for lang in ("vi", "en"):
        page.goto(f"{base}/dashboard?lang={lang}")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=SHOTS / f"01-dashboard-{lang}.png", full_page=True)
    # Every chart image loaded (the policy let its own style through, no error logged).
    loaded = page.evaluate(
        "Array.from(document.querySelectorAll('img.chart-image')).every(i => i.naturalWidth > 0)"
    )
    assert loaded and not errors, errors

    # The tile leads to the list of the cases it counts: our case is there.
    page.click("a.tile-overdue")
    page.wait_for_load_state()
    assert "tile=overdue" in page.url
    assert case["reference"] in page.content()
    for lang in ("vi", "en"):
        page.goto(re.sub(r"&lang=\w+", "", page.url) + f"&lang={lang}")
        page.screenshot(path=SHOTS / f"02-list-{lang}.png", full_page=True)

    # Reassigned from the list, by keyboard: tick the case, choose the officer, send.
    page.locator(f"input[name=case][value^='{case['id']}:']").focus()
    page.keyboard.press("Space")
    page.select_option("#bulk-assignee", "officer")
    page.locator("form.bulk button[type=submit]").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "1" in page.locator(".alert-success").inner_text()
    page.screenshot(path=SHOTS / "03-reassigned-vi.png", full_page=True)

    # Its page names the officer; the case is still overdue (its clocks did not move).
    page.goto(f"{base}/cases/{case['id']}?lang=vi")
    assert people["officer"].full_name in page.content()
    page.screenshot(path=SHOTS / "04-case-vi.png", full_page=True)
    page.goto(f"{base}/cases/{case['id']}?lang=en")
    page.screenshot(path=SHOTS / "04-case-en.png", full_page=True)
    page.goto(f"{base}/dashboard")
    assert int(page.locator("a.tile-overdue .display-6").inner_text()) >= 1
