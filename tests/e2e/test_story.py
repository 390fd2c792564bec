"""The whole story of a case through the browser, by the people who do it: Debian's Chromium
driven by Playwright against the app served as the README serves it. Every page of the story
is also read in English and photographed under test-artifacts/story/."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import HOME, PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "story"


class Story:
    """One browser, one person signed in at a time; every page checked in both languages."""

    def __init__(self, page, server: str) -> None:
        self.page, self.server, self.shot = page, server, 0
        shutil.rmtree(SHOTS, ignore_errors=True)  # this run's pictures only
        SHOTS.mkdir(parents=True)

    def sign_in(self, username: str) -> None:
        page = self.page
        page.context.clear_cookies()
        page.goto(f"{self.server}/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("#submit")
        page.wait_for_load_state()
        assert "/login" not in page.url, username

    def photograph(self, name: str) -> None:
        """This page in Vietnamese and in English: the heading changes language, and the
        page is photographed both ways; then back to Vietnamese."""
        page = self.page
        self.shot += 1
        assert page.locator("html").get_attribute("lang") == "vi"
        title_vi = page.title()
        page.screenshot(path=SHOTS / f"{self.shot:02d}-{name}-vi.png", full_page=True)
        page.click("nav a[lang=en]")
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.title() != title_vi and page.title().endswith("Child protection"), name
        page.screenshot(path=SHOTS / f"{self.shot:02d}-{name}-en.png", full_page=True)
        page.click("nav a[lang=vi]")
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "vi"

    def act(self, case_id: int, event: str) -> None:
        """Open the step's form from the case page's button."""
        page = self.page
        page.goto(f"{self.server}/cases/{case_id}")
        page.click(f"a[href$='/cases/{case_id}/actions/{event}']")
        page.wait_for_load_state()

    def submit(self) -> None:
        self.page.click("form.event-form button[type=submit]:not([name=add_row])")
        self.page.wait_for_load_state()

    def state(self, expected: str) -> None:
        assert expected in self.page.content(), expected


@pytest.mark.slow
def test_a_report_to_a_closed_case_through_the_browser(
    server,
    browser_page,
    db,
    people,
) -> None:
    people.make("health", "agency", HOME, "health")
    story = Story(browser_page, server)
    page = browser_page

    # The hotline: intake staff record the report on the intake page.
    story.sign_in("intake")
    page.goto(f"{server}/intake")
    story.photograph("intake")
    page.check("#kind-abuse_report")
    page.fill("#reporter-name", "Người hàng xóm")
    page.fill("#reporter-phone", "0905 111 222")
    page.fill("#child-full_name", "Phạm Thị Hoa")
    page.select_option("#child-sex", "female")
    page.fill("#child-age_years", "9")
    for field, typed, name in (
        ("child-unit_code", "hai chau", "Phường Hải Châu"),
        ("incident_unit_code", "hai chau", "Phường Hải Châu"),
    ):
        page.fill(f"#{field}-q", typed)
        page.click(f'#{field}-options [data-pick-name="{name}"]')
    page.check("#abuse_types-0")
    page.fill("#description", "Hàng xóm nghe tiếng trẻ khóc và bị đánh nhiều lần.")
    page.click("#save-report")
    page.wait_for_url(f"{server}/intake/reports/*")
    story.photograph("intake-saved")
    outcome = page.locator("main").inner_text()
    assert "Ca mới" in outcome and "Phường Hải Châu" in outcome
    case_id = int(
        page.locator("main a[href^='/cases/']").first.get_attribute("href").split("/")[-1]
    )

    # The chair accepts the report and names the officer.
    story.sign_in("chair")
    story.act(case_id, "accept")
    story.photograph("accept")
    page.select_option("#assignee", "officer")  # the commune's officers, by name
    story.submit()
    story.state("Đánh giá ban đầu")

    # The officer: initial assessment (Mẫu 02), then the specific assessment (Mẫu 03).
    story.sign_in("officer")
    story.act(case_id, "assess")
    story.photograph("assess")
    page.check("#verified")
    page.select_option("#risk_level", "high")
    page.fill("#findings", "Đã xác minh với gia đình và nhà trường.")
    story.submit()
    story.act(case_id, "complete_assessment")
    story.photograph("complete-assessment")
    page.fill("#needs", "Hỗ trợ tâm lý, khám sức khỏe.")
    page.fill("#meeting_minutes", "Biên bản họp liên ngành.")
    story.submit()

    # A plan with two agency measures (Mẫu 04).
    due = (date.today() + timedelta(days=20)).isoformat()
    story.act(case_id, "submit_plan")
    story.photograph("plan")
    page.select_option("#measures-0-agency_kind", "police")
    page.fill("#measures-0-action", "Xác minh, xử lý người vi phạm")
    page.fill("#measures-0-due_date", due)
    page.click("button[name=add_row]")
    page.wait_for_load_state()
    assert page.input_value("#measures-0-action") == "Xác minh, xử lý người vi phạm"
    page.select_option("#measures-1-agency_kind", "health")
    page.fill("#measures-1-action", "Khám sức khỏe và tư vấn tâm lý")
    page.fill("#measures-1-due_date", due)
    story.submit()

    # The chair returns it; the officer resubmits; the chair approves (Mẫu 05).
    story.sign_in("chair")
    story.act(case_id, "return_plan")
    page.fill("#reason", "Bổ sung người chịu trách nhiệm.")
    story.submit()
    story.sign_in("officer")
    story.act(case_id, "submit_plan")
    assert page.input_value("#measures-0-action") in ("", "Xác minh, xử lý người vi phạm")
    page.select_option("#measures-0-agency_kind", "police")
    page.fill("#measures-0-action", "Xác minh, xử lý người vi phạm")
    page.fill("#measures-0-due_date", due)
    if not page.locator("#measures-1-action").count():
        page.click("button[name=add_row]")
        page.wait_for_load_state()
    page.select_option("#measures-1-agency_kind", "health")
    page.fill("#measures-1-action", "Khám sức khỏe và tư vấn tâm lý")
    page.fill("#measures-1-due_date", due)
    story.submit()
    story.sign_in("chair")
    story.act(case_id, "approve_plan")
    story.photograph("approve")
    story.submit()
    story.state("Thực hiện kế hoạch")

    # The police accept, then complete; health completes straight away.
    story.sign_in("police")
    page.goto(f"{server}/tasks")
    story.photograph("agency-portal")
    page.click("text=Xác minh, xử lý người vi phạm")
    story.photograph("agency-task")
    page.select_option("#action", "accept")
    page.click("form.task-answer button[type=submit]")
    page.wait_for_load_state()
    page.select_option("#action", "complete")
    page.fill("#note", "Đã lập biên bản, chuyển hồ sơ.")
    page.click("form.task-answer button[type=submit]")
    page.wait_for_load_state()
    assert "Nhiệm vụ này không cần trả lời thêm." in page.content()
    story.sign_in("health")
    page.goto(f"{server}/tasks")
    page.click("text=Khám sức khỏe và tư vấn tâm lý")
    page.select_option("#action", "complete")
    page.click("form.task-answer button[type=submit]")
    page.wait_for_load_state()

    # The officer reviews; the chair closes with the review (Mẫu 06).
    story.sign_in("officer")
    story.act(case_id, "start_review")
    story.submit()
    story.sign_in("chair")
    story.act(case_id, "close")
    story.photograph("close")
    for name in ("harm", "abuser_access", "environment"):
        page.select_option(f"#review-{name}", "low")
    story.submit()
    page.goto(f"{server}/cases/{case_id}")
    story.state("Kết thúc")
    story.photograph("closed-case")

    # At phone width the closed case fits the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.screenshot(path=SHOTS / "99-closed-case-390px.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
