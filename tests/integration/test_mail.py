"""Mail delivery to a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from casework.deadlines import sweep
from casework.models import MailStatus, Notification, User
from casework.notify import SmtpSettings, deliver
from casework.services.queries import mail_failures
from tests.conftest import at
from tests.helpers import open_case
from tests.pg_cluster import free_port

REFUSED = "gone@example.org"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = f"{message['subject']}\n{message.get_content()}"
        self.messages.append((list(envelope.rcpt_tos), text))
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpSettings]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, SmtpSettings(host="127.0.0.1", port=port, sender="casework@test.local", timeout=5)
    controller.stop()


def set_email(db, username: str, email: str) -> None:
    with db.uow() as uow:
        uow.session.execute(sa.update(User).where(User.username == username).values(email=email))
        uow.commit()


def overdue_case(db, people):
    set_email(db, "chair", "chair@example.org")
    set_email(db, "officer", "officer@example.org")
    case = open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    sweep(db, at("2027-03-01T20:00:00"))  # assignment + initial assessment rungs
    return case


def test_mail_is_sent_once(db, people, smtp) -> None:
    inbox, settings = smtp
    overdue_case(db, people)
    with db.uow(readonly=True) as uow:
        pending = uow.session.scalar(
            sa.select(sa.func.count()).where(Notification.mail_status == MailStatus.PENDING)
        )
    counts = deliver(db, settings, at("2027-03-01T20:01:00"))
    assert counts == {"sent": pending, "retry": 0, "failed": 0} and pending > 0
    assert deliver(db, settings, at("2027-03-01T20:02:00"))["sent"] == 0
    assert len(inbox.messages) == pending
    recipients = {r for rcpts, _ in inbox.messages for r in rcpts}
    # Nobody is assigned yet: the commune's officers are the assignee; chairs see overdue.
    assert recipients == {"chair@example.org", "officer@example.org"}
    body = inbox.messages[0][1]
    assert "48-2027-000001" in body and "Lan" not in body


def test_server_down_is_retried_later_and_nothing_is_lost(db, people, smtp) -> None:
    inbox, settings = smtp
    overdue_case(db, people)

    def rows(**where):
        with db.uow(readonly=True) as uow:
            return list(uow.session.scalars(sa.select(Notification).filter_by(**where)))

    total = len(rows(mail_status=MailStatus.PENDING))
    down = SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2)  # nobody listens
    first = deliver(db, down, at("2027-03-01T20:01:00"))
    assert first["sent"] == 0 and first["retry"] >= 1
    tried = {r.id for r in rows(mail_attempts=1)}
    assert len(tried) == first["retry"]
    assert all(r.mail_status == MailStatus.PENDING for r in rows(mail_attempts=1))
    # The server is back, but the tried messages wait for their backoff...
    deliver(db, settings, at("2027-03-01T20:01:30"))
    assert {r.id for r in rows(mail_status=MailStatus.PENDING)} == tried
    # ...then go, once each: nothing lost, nothing twice.
    deliver(db, settings, at("2027-03-01T21:30:00"))
    assert rows(mail_status=MailStatus.PENDING) == []
    assert len(inbox.messages) == total == len(rows(mail_status=MailStatus.SENT))


def test_refused_address_is_marked_and_does_not_block_the_queue(db, people, smtp) -> None:
    inbox, settings = smtp
    set_email(db, "province", REFUSED)
    set_email(db, "chair", "chair@example.org")
    open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    sweep(db, at("2027-03-03T00:00:00"))  # escalations reach the province user
    counts = deliver(db, settings, at("2027-03-03T00:01:00"))
    assert counts["failed"] >= 1 and counts["sent"] >= 1
    failures = mail_failures(db)
    assert [f["username"] for f in failures] == ["province"]
    assert "550" in failures[0]["error"]
    assert all(REFUSED not in rcpts for rcpts, _ in inbox.messages)


def test_backoff_grows_and_is_capped() -> None:
    from casework.notify import backoff

    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (1, 2, 4)]
    assert backoff(20) == timedelta(minutes=60)


def test_disabled_smtp_keeps_mail_pending(db, people) -> None:
    overdue_case(db, people)
    assert deliver(db, SmtpSettings(), at("2027-03-01T20:01:00")) == {
        "sent": 0,
        "retry": 0,
        "failed": 0,
    }


def test_mail_to_a_removed_address_is_dropped_not_retried(db, people, smtp) -> None:
    inbox, settings = smtp
    overdue_case(db, people)
    set_email(db, "officer", "")
    deliver(db, settings, at("2027-03-01T20:01:00"))
    recipients = {r for rcpts, _ in inbox.messages for r in rcpts}
    assert recipients == {"chair@example.org"}
    with db.uow(readonly=True) as uow:
        assert (
            uow.session.scalar(
                sa.select(sa.func.count()).where(Notification.mail_status == MailStatus.PENDING)
            )
            == 0
        )
