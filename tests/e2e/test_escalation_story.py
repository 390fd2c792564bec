"""Issue "Deadline and escalation engine", done when: a case left untouched after intake shows
the reminder, then overdue, then escalation to the province, each once, in its history and in
the recipients' inboxes and mail — whatever number of sweepers ran."""

from __future__ import annotations

import threading

import sqlalchemy as sa
import time_machine

from casework.deadlines import sweep
from casework.models import User
from casework.notify import deliver
from tests.conftest import at, report_payload
from tests.integration.test_mail import smtp  # noqa: F401 - the aiosmtpd fixture


def test_untouched_case_is_reminded_then_overdue_then_escalated_once(api, db, people, smtp) -> None:  # noqa: F811
    inbox, settings = smtp
    with db.uow() as uow:
        for username in ("officer", "chair", "province"):
            uow.session.execute(
                sa.update(User)
                .where(User.username == username)
                .values(email=f"{username}@example.org")
            )
        uow.commit()
    payload = report_payload(received_at="2027-03-01T08:00:00+07:00", auto_transfer=False)
    from casework.services.intake import record_report

    case = record_report(db, people["intake"], payload, now=at("2027-03-01T08:05:00")).case
    assert case is not None

    def sweepers(moment, count=3):
        threads = [threading.Thread(target=sweep, args=(db, moment)) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        deliver(db, settings, moment)

    for moment in (
        "2027-03-01T17:00:00",
        "2027-03-01T20:00:00",
        "2027-03-02T20:00:00",
        "2027-03-05T00:00:00",
    ):
        sweepers(at(moment))

    # The people read it the next morning (the server's clock is frozen there).
    traveller = time_machine.travel(at("2027-03-05T08:00:00"), tick=False)
    traveller.start()
    view = api.get(f"/cases/{case['id']}", "officer").json
    ladder = [e["rung"] for e in view["escalations"] if e["rule"] == "initial_assessment"]
    assert ladder == ["reminded", "overdue", "escalated"]
    assert view["overdue"] is True

    def subjects(username: str) -> list[str]:
        notes = api.get("/notifications", username).json["notifications"]
        return sorted(n["subject"] for n in notes if "đánh giá ban đầu" in n["subject"])

    ref = case["reference"]
    assert subjects("officer") == [
        f"[{ref}] QUÁ HẠN: đánh giá ban đầu",
        f"[{ref}] Sắp đến hạn: đánh giá ban đầu",
    ]
    assert subjects("chair") == [f"[{ref}] QUÁ HẠN: đánh giá ban đầu"]
    assert subjects("province") == [f"[{ref}] Chuyển cấp tỉnh: đánh giá ban đầu quá hạn"]
    mailed = [(rcpts[0], text) for rcpts, text in inbox.messages if "đánh giá ban đầu" in text]
    assert sorted(r for r, _ in mailed) == [
        "chair@example.org",
        "officer@example.org",
        "officer@example.org",
        "province@example.org",
    ]
    traveller.stop()
