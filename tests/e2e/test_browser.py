"""A person's path through the pages, in Debian's Chromium driven by Playwright, against the
app served by gunicorn (`casework serve`) on loopback."""

from __future__ import annotations

from casework.deadlines import sweep
from tests.conftest import PASSWORD, at
from tests.helpers import open_case


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


def test_a_stale_form_keeps_what_was_typed_and_names_the_change(
    server, browser_page, db, people
) -> None:
    """Two people at once: the officer types a plan while the chair reassigns the case; the
    officer's send is refused, the notice says who changed what, the typed plan is kept."""
    from datetime import date, timedelta

    from tests.e2e.test_actions import plan_case

    people.make("officer.b", "officer", "20194")
    case = plan_case(db, people)
    officer = browser_page
    chair = officer.context.browser.new_context().new_page()
    for page, username in ((officer, "officer"), (chair, "chair")):
        page.goto(f"{server}/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("#submit")
        page.wait_for_url(f"{server}/")
    officer.goto(f"{server}/cases/{case['id']}/actions/submit_plan")
    officer.select_option("#measures-0-agency_kind", "police")
    officer.fill("#measures-0-action", "Xác minh tại nhà, gặp riêng trẻ")
    officer.fill("#measures-0-due_date", (date.today() + timedelta(days=20)).isoformat())
    chair.goto(f"{server}/cases/{case['id']}/assign")
    chair.select_option("#assignee", "officer.b")
    chair.click("button[type=submit].btn-primary")
    chair.wait_for_url(f"{server}/cases/{case['id']}")
    officer.click("form.event-form button[type=submit].btn-primary")
    notice = officer.locator(".conflict").inner_text()
    assert "người khác đã thay đổi ca này" in notice
    assert "Phân công người phụ trách" in notice and "Chủ tịch UBND cấp xã" in notice
    assert officer.input_value("#measures-0-action") == "Xác minh tại nhà, gặp riêng trẻ"
    # Sent again, on the case as it is now: done.
    officer.click("form.event-form button[type=submit].btn-primary")
    officer.wait_for_url(f"{server}/cases/{case['id']}")
    assert "Phê duyệt kế hoạch" in officer.content()
