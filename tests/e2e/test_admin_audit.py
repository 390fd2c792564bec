"""The audit trail's page (/admin/audit) and refused e-mail addresses (/admin/mail-failures):
who may see and do what, tampering shown as broken, a case's access log, retry and fixed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from casework.models import AuditEvent, MailStatus, Notification, User
from tests.conftest import HANOI, PASSWORD
from tests.helpers import case_in, open_case

OTHER_ROLES = ("intake", "officer", "chair", "province", "police")


def login(client, username: str) -> None:
    answer = client.post("/login", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 302, username


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def audit_events(db, action: str | None = None) -> list[AuditEvent]:
    with db.uow(readonly=True) as uow:
        statement = sa.select(AuditEvent).order_by(AuditEvent.id)
        if action:
            statement = statement.where(AuditEvent.action == action)
        return list(uow.session.scalars(statement))


@pytest.fixture
def admins(people):
    people.make("admin.48", "admin", "48")
    people.make("admin.01", "admin", "01")
    return people


# --- audit trail -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_every_other_role_is_refused(client, db, admins, role) -> None:
    case = case_in(db, admins, "initial_assessment")
    login(client, role)
    before = len(audit_events(db))
    assert client.get("/admin/audit").status_code == 403
    assert client.get(f"/admin/audit?case={case['reference']}").status_code == 403
    assert client.post("/admin/audit/chains/48/verify").status_code == 403
    assert len(audit_events(db)) == before  # nothing verified, no trail read


def test_anonymous_is_sent_to_sign_in(client, db, admins) -> None:
    assert "/login" in client.get("/admin/audit").location
    assert client.post("/admin/audit/chains/48/verify").status_code == 302


def test_verify_without_csrf_is_refused(db, admins) -> None:
    from config import TestConfig
    from web import create_app

    class WithCsrf(TestConfig):
        WTF_CSRF_ENABLED = True

    client = create_app(WithCsrf, db=db).test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text)
    client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    before = len(audit_events(db))
    assert client.post("/admin/audit/chains/48/verify").status_code == 400
    assert client.post("/admin/mail-failures/1/retry").status_code == 400
    assert len(audit_events(db)) == before


def test_each_chain_shows_its_head_and_seal(client, db, admins) -> None:
    from casework import audit

    case_in(db, admins, "initial_assessment")
    with db.uow() as uow:
        audit.seal(uow.session, uow.settings.audit_key, datetime.now(UTC))
        uow.commit()
        head = uow.session.get(audit.AuditChain, "48")
    login(client, "admin")
    client.get("/lang/en")
    page = text_of(client.get("/admin/audit").text)
    assert "Thành phố Đà Nẵng" in page and "National" in page
    assert head.head_hash[:12] in page and "covers every entry" in page


def test_tampering_shows_as_broken(client, db, admins) -> None:
    case_in(db, admins, "initial_assessment")
    login(client, "admin")
    client.get("/lang/en")
    answer = client.post("/admin/audit/chains/48/verify", follow_redirects=True)
    assert "Chain 48 is intact" in text_of(answer.text)
    assert "intact" in text_of(client.get("/admin/audit").text)
    [verified] = audit_events(db, "audit.verified")
    assert verified.actor == "admin" and verified.summary["ok"] is True
    with db.engine.begin() as conn:  # someone with the database but not the key
        victim = conn.scalar(
            sa.text("SELECT id FROM audit_events WHERE chain = '48' ORDER BY seq LIMIT 1")
        )
        conn.execute(
            sa.text("UPDATE audit_events SET summary = :s WHERE id = :id"),
            {"s": '{"view": "nothing happened"}', "id": victim},
        )
    answer = client.post("/admin/audit/chains/48/verify", follow_redirects=True)
    assert "Chain 48 is broken" in text_of(answer.text)
    page = text_of(client.get("/admin/audit").text)
    assert "broken" in page and f"event {victim}" in page
    assert audit_events(db, "audit.verified")[-1].summary["ok"] is False


def test_the_cli_and_the_page_run_the_same_check(db, admins) -> None:
    from casework.services.audit_trail import verify_trail

    case_in(db, admins, "initial_assessment")
    assert verify_trail(db).problem is None
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_events SET actor = 'x' WHERE chain = '48' AND seq = 2"))
    assert "was changed" in (verify_trail(db).problem or "")
    assert "was changed" in (verify_trail(db, chains={"48"}).problem or "")


def test_a_province_admin_sees_and_verifies_its_chain_only(client, db, admins) -> None:
    case_in(db, admins, "initial_assessment")
    child = {"full_name": "Phạm Văn Hùng", "sex": "male", "unit_code": HANOI}
    child |= {"address": "Ngõ 3", "birth_date": "2016-01-02"}
    open_case(db, admins, actor="intake.111", incident_unit_code=HANOI, child=child)  # chain 01
    login(client, "admin.48")
    client.get("/lang/en")
    page = text_of(client.get("/admin/audit").text)
    assert "Thành phố Đà Nẵng" in page and "Thành phố Hà Nội" not in page and "National" not in page
    before = len(audit_events(db))
    assert client.post("/admin/audit/chains/01/verify").status_code == 404
    assert client.post("/admin/audit/chains/national/verify").status_code == 404
    assert len(audit_events(db)) == before
    assert client.post("/admin/audit/chains/48/verify").status_code == 302


def test_the_access_log_lists_an_officers_read(client, db, admins) -> None:
    case = case_in(db, admins, "initial_assessment")
    officer = client.application.test_client()
    login(officer, "officer")
    assert officer.get(f"/cases/{case['id']}").status_code == 200
    login(client, "admin")
    client.get("/lang/en")
    answer = client.get("/admin/audit", query_string={"case": case["reference"]})
    assert answer.status_code == 200
    rows = re.findall(r"<tr><td[^>]*>(.*?)</tr>", answer.text, re.S)
    reads = [text_of(r) for r in rows if "officer" in r and "Opened the case file" in r]
    assert reads and "Commune child-protection officer" in reads[-1]
    page = text_of(answer.text)
    assert "Recorded the report; the case was opened" in page
    assert "Accept and assign → Initial assessment" in page
    [lookup] = audit_events(db, "case.access_log_read")  # the lookup is on record
    assert lookup.actor == "admin" and lookup.case_id == case["id"] and lookup.chain == "48"
    # by the number in the case page's address too
    assert client.get("/admin/audit", query_string={"case": str(case["id"])}).status_code == 200


def test_another_provinces_case_is_not_found(client, db, admins) -> None:
    case = case_in(db, admins, "initial_assessment")  # Đà Nẵng
    login(client, "admin.01")
    before = len(audit_events(db))
    answer = client.get("/admin/audit", query_string={"case": case["reference"]})
    assert answer.status_code == 404 and "officer" not in text_of(answer.text)
    for nonsense in ("48-2027-999999", "'; drop table", "x" * 40):
        assert client.get("/admin/audit", query_string={"case": nonsense}).status_code == 404
    assert len(audit_events(db)) == before  # nothing read, nothing recorded
    client.post("/logout")
    login(client, "admin.48")
    assert client.get("/admin/audit", query_string={"case": case["reference"]}).status_code == 200


# --- mail failures ---------------------------------------------------------------------------


def refuse(db, username: str) -> int:
    """The mail server refused `username`'s address: the user is marked, one mail failed."""
    with db.uow() as uow:
        user = uow.session.scalars(sa.select(User).where(User.username == username)).one()
        user.email = f"{username}@bad.example"
        user.email_failed_at = datetime(2027, 2, 3, 2, 0, tzinfo=UTC)
        user.email_error = "550 5.1.1 mailbox unavailable"
        uow.session.add(
            Notification(
                user_id=user.id,
                kind="deadline",
                subject="s",
                body="b",
                created_at=datetime(2027, 2, 3, 1, 0, tzinfo=UTC),
                mail_status=MailStatus.FAILED,
                mail_attempts=1,
                last_error="550 5.1.1 mailbox unavailable",
            )
        )
        uow.commit()
        return user.id


def mail_state(db, user_id: int) -> tuple[object, str, int]:
    with db.uow(readonly=True) as uow:
        user = uow.session.get(User, user_id)
        pending = uow.session.scalar(
            sa.select(sa.func.count()).where(
                Notification.user_id == user_id, Notification.mail_status == MailStatus.PENDING
            )
        )
        return user.email_failed_at, user.email_error, int(pending)


def test_the_page_shows_who_since_when_and_why(client, db, admins) -> None:
    refuse(db, "officer")
    login(client, "admin")
    client.get("/lang/en")
    page = text_of(client.get("/admin/mail-failures").text)
    assert "officer@bad.example" in page and "03/02/2027 09:00" in page
    assert "550 5.1.1 mailbox unavailable" in page and "1 refused, 0 waiting" in page


def test_retry_queues_the_refused_mail_now_audited(client, db, admins) -> None:
    user_id = refuse(db, "officer")
    login(client, "admin")
    assert client.post(f"/admin/mail-failures/{user_id}/retry").status_code == 302
    failed_at, error, pending = mail_state(db, user_id)
    assert failed_at is None and error == "" and pending == 1
    [event] = audit_events(db, "user.mail_retried")
    assert event.actor == "admin" and event.summary == {"user_id": user_id, "queued": 1}
    assert "officer@bad.example" not in client.get("/admin/mail-failures").text


def test_mark_fixed_clears_the_mark_without_sending(client, db, admins) -> None:
    user_id = refuse(db, "officer")
    login(client, "admin.48")  # the officer's commune is in Đà Nẵng
    assert client.post(f"/admin/mail-failures/{user_id}/fixed").status_code == 302
    failed_at, _error, pending = mail_state(db, user_id)
    assert failed_at is None and pending == 0
    assert len(audit_events(db, "user.mail_address_fixed")) == 1


def test_a_province_admin_sees_and_acts_on_its_province_only(client, db, admins) -> None:
    hanoi = refuse(db, "officer.hn")
    refuse(db, "officer")
    login(client, "admin.48")
    page = client.get("/admin/mail-failures").text
    assert "officer@bad.example" in page and "officer.hn@bad.example" not in page
    before = len(audit_events(db))
    assert client.post(f"/admin/mail-failures/{hanoi}/retry").status_code == 404
    assert client.post(f"/admin/mail-failures/{hanoi}/fixed").status_code == 404
    assert mail_state(db, hanoi)[0] is not None and len(audit_events(db)) == before


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_other_roles_cannot_touch_mail_failures(client, db, admins, role) -> None:
    user_id = refuse(db, "chair")
    login(client, role)
    assert client.get("/admin/mail-failures").status_code == 403
    assert client.post(f"/admin/mail-failures/{user_id}/retry").status_code == 403
    assert client.post(f"/admin/mail-failures/{user_id}/fixed").status_code == 403
    assert mail_state(db, user_id)[0] is not None


def test_an_address_not_refused_is_not_found(client, db, admins) -> None:
    login(client, "admin")
    with db.uow(readonly=True) as uow:
        chair = uow.session.scalar(sa.select(User.id).where(User.username == "chair"))
    assert client.post(f"/admin/mail-failures/{chair}/retry").status_code == 404
    assert client.post("/admin/mail-failures/999999/fixed").status_code == 404
    assert audit_events(db, "user.mail_retried") == []
