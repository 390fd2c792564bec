"""The intake page in Debian's Chromium, by keyboard alone: a repeat report on a child typed
without diacritics and with a typo is matched to the earlier case, kept as a draft through a
reload, and saved with Ctrl+Enter."""

from __future__ import annotations

from tests.conftest import PASSWORD
from tests.helpers import open_case


def focused(page) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def tab_to(page, element_id: str, most: int = 60) -> None:
    """Press Tab until `element_id` has the focus (the tab order reaches it)."""
    for _ in range(most):
        if focused(page) == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id} (at #{focused(page)})")


def pick_commune(page, field: str, typed: str, name: str) -> None:
    tab_to(page, f"{field}-q")
    page.keyboard.type(typed)
    page.wait_for_selector(f'#{field}-options [data-pick-name="{name}"]')
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert page.input_value(f"#{field}") != ""


def test_keyboard_only_intake_of_a_repeat_child(server, browser_page, db, people) -> None:
    earlier = open_case(db, people)  # Nguyễn Thị Lan, born 2018, Phường Hải Châu
    page = browser_page
    page.goto(f"{server}/login")
    page.fill("#username", "intake")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/")
    page.goto(f"{server}/intake")
    assert focused(page) == "kind-abuse_report"  # the first choice

    page.keyboard.press("1")  # a silent call: one key
    page.wait_for_selector("text=Đã ghi nhận: Cuộc gọi im lặng (hôm nay: 1)")
    assert focused(page) == "kind-abuse_report"

    tab_to(page, "reporter-phone")
    page.keyboard.type("0905 123 456")
    tab_to(page, "child-full_name")
    page.keyboard.type("nguyen thi lna")  # no diacritics, and a typo
    page.keyboard.press("Enter")  # not a send
    assert page.url.endswith("/intake")
    tab_to(page, "child-sex")
    page.keyboard.press("n")  # nữ
    tab_to(page, "child-age_years")
    page.keyboard.type("8")
    pick_commune(page, "child-unit_code", "hai chau", "Phường Hải Châu")

    suggestion = f"#link-{earlier['id']}"
    page.wait_for_selector(suggestion)
    live = page.locator("#live").inner_text()
    assert earlier["reference"] in live and "họ tên gần giống" in live
    tab_to(page, f"link-{earlier['id']}")
    page.keyboard.press("Space")
    assert page.is_checked(suggestion)

    pick_commune(page, "incident_unit_code", "thanh khe", "Phường Thanh Khê")
    tab_to(page, "abuse_types-0")
    page.keyboard.press("Space")
    tab_to(page, "description")
    page.keyboard.type("Cô giáo thấy vết bầm trên tay trẻ.")
    page.wait_for_timeout(1200)  # the draft is saved 0.8 s after the last key
    page.wait_for_function(
        "!document.getElementById('intake-form').classList.contains('htmx-request')"
    )
    assert "Đã lưu bản nháp" in page.locator("#draft-status").inner_text()

    page.reload()  # a closed tab or a lost connection: the draft comes back
    assert page.input_value("#description") == "Cô giáo thấy vết bầm trên tay trẻ."
    assert page.input_value("#child-unit_code-q") == "Phường Hải Châu"
    page.wait_for_selector(suggestion)
    assert page.is_checked(suggestion)

    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"{server}/intake/reports/*")
    text = page.locator("main").inner_text()
    assert "Đã gắn vào ca đã có" in text and earlier["reference"] in text
