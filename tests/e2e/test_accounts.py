"""Accounts through the pages: lockout with one message for every failure, two-step sign-in
(enrolment, codes under a frozen clock, recovery codes), a forced password change, the API
refusing expired and revoked tokens, a new session id at every sign-in."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa
import time_machine

from casework.models import UserSession
from casework.services.users import LOCKOUT_AFTER, create_token, list_tokens, reset_password
from casework.services.users import revoke_token as revoke
from config import TestConfig
from tests.conftest import PASSWORD, at
from web import create_app

T0 = at("2027-03-01T08:00:00")
ONE_MESSAGE = "Wrong username or password. After repeated failures an account is locked"


class TwoFactorRequired(TestConfig):
    TWO_FACTOR_REQUIRED = True


@pytest.fixture
def strict_app(db):
    return create_app(TwoFactorRequired, db=db)


def login(client, username: str, password: str = PASSWORD):
    return client.post("/login?lang=en", data={"username": username, "password": password})


def secret_on(page: str) -> str:
    match = re.search(r'<code class="totp-secret">([A-Z2-7]+)</code>', page)
    assert match, page
    return match.group(1)


def enrol(client, moment) -> tuple[str, list[str]]:
    """Enrol the signed-in user at `moment`; returns the secret and the recovery codes."""
    page = client.get("/account/two-factor?lang=en")
    assert page.status_code == 200 and 'src="data:image/svg+xml;base64,' in page.text
    secret = secret_on(page.text)
    done = client.post("/account/two-factor?lang=en", data={"code": pyotp.TOTP(secret).at(moment)})
    assert done.status_code == 200 and "Recovery codes" in done.text
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    return secret, codes


def signed_in(client) -> bool:
    return client.get("/inbox").status_code == 200


# --- lockout --------------------------------------------------------------------------------


def test_25_wrong_passwords_lock_the_page_sign_in_with_one_message(client, db, people) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        for n in range(25):
            answer = login(client, "officer", f"guess-number-{n}")
            assert answer.status_code == 401 and ONE_MESSAGE in answer.text
        locked = login(client, "officer")
        assert locked.status_code == 401 and ONE_MESSAGE in locked.text
        assert not signed_in(client)
        traveller.move_to(T0 + timedelta(minutes=1))
        assert login(client, "officer").status_code == 302


def test_an_unknown_name_and_a_wrong_password_read_the_same(client, db, people) -> None:
    unknown = login(client, "no-such-user", "whatever-password")
    wrong = login(client, "officer", "whatever-password")
    assert unknown.status_code == wrong.status_code == 401
    strip = re.compile(r'name="csrf_token"[^>]*>|value="[^"]*"')
    assert strip.sub("", unknown.text) == strip.sub("", wrong.text).replace(
        "officer", "no-such-user"
    )


def test_wrong_second_factor_codes_count_towards_the_lockout(strict_app, db, people) -> None:
    client = strict_app.test_client()
    with time_machine.travel(T0, tick=False):
        login(client, "province")
        enrol(client, T0)
        client.post("/logout")
        for _ in range(LOCKOUT_AFTER - 1):
            assert login(client, "province").location == "/login/code"
            assert client.post("/login/code?lang=en", data={"code": "000000"}).status_code == 401
        assert login(client, "province").location == "/login/code"
        last = client.post("/login/code?lang=en", data={"code": "000000"})
        assert last.status_code == 302 and last.location == "/login"
        assert ONE_MESSAGE in login(client, "province").text  # the right password: locked


# --- two factors ----------------------------------------------------------------------------


def test_province_staff_enrol_before_anything_else_then_sign_in_with_a_code(
    strict_app, db, people
) -> None:
    client = strict_app.test_client()
    with time_machine.travel(T0, tick=False) as traveller:
        assert login(client, "province").status_code == 302
        for path in ("/", "/inbox", "/work"):
            answer = client.get(path)
            assert answer.status_code == 302 and answer.location == "/account/two-factor"
        page = client.get("/account/two-factor?lang=en")
        assert "Your role must sign in with two steps" in page.text
        # A wrong code changes nothing and says so next to the field.
        wrong = client.post("/account/two-factor?lang=en", data={"code": "123456"})
        assert wrong.status_code == 400 and "not the code the app shows now" in wrong.text
        assert secret_on(wrong.text) == secret_on(page.text)  # the same secret waits
        secret, _codes = enrol(client, T0)
        assert client.get("/inbox").status_code == 200
        client.post("/logout")

        # The password alone no longer signs in: the second step asks for a code.
        first = login(client, "province")
        assert first.status_code == 302 and first.location == "/login/code"
        assert client.get("/inbox").status_code == 302  # not signed in yet
        # The code used at enrolment was taken: the same one again is refused.
        reused = client.post("/login/code?lang=en", data={"code": pyotp.TOTP(secret).at(T0)})
        assert reused.status_code == 401 and "wrong or was used already" in reused.text
        traveller.move_to(T0 + timedelta(seconds=30))
        code = pyotp.TOTP(secret).at(T0 + timedelta(seconds=30))
        assert client.post("/login/code", data={"code": code}).status_code == 302
        assert signed_in(client)


def test_a_recovery_code_works_once(strict_app, db, people) -> None:
    client = strict_app.test_client()
    with time_machine.travel(T0, tick=False):
        login(client, "admin")
        _secret, codes = enrol(client, T0)
        client.post("/logout")
        login(client, "admin")
        assert client.post("/login/code", data={"code": codes[3].upper()}).status_code == 302
        assert signed_in(client)
        client.post("/logout")
        login(client, "admin")
        again = client.post("/login/code?lang=en", data={"code": codes[3]})
        assert again.status_code == 401 and not signed_in(client)
        page = client.post("/login/code", data={"code": codes[4]})
        assert page.status_code == 302 and signed_in(client)
        assert "Unused recovery codes: 8." in client.get("/account/two-factor?lang=en").text


def test_the_second_step_waits_five_minutes(strict_app, db, people) -> None:
    client = strict_app.test_client()
    with time_machine.travel(T0, tick=False) as traveller:
        login(client, "admin")
        secret, _codes = enrol(client, T0)
        client.post("/logout")
        traveller.move_to(T0 + timedelta(minutes=1))
        login(client, "admin")
        traveller.move_to(T0 + timedelta(minutes=6))
        late = client.post("/login/code", data={"code": pyotp.TOTP(secret).now()})
        assert late.status_code == 302 and late.location == "/login"
        assert not signed_in(client)


def test_the_second_step_without_a_right_password_goes_back_to_sign_in(client) -> None:
    answer = client.get("/login/code")
    assert answer.status_code == 302 and answer.location == "/login"
    assert client.post("/login/code", data={"code": "123456"}).location == "/login"


def test_two_factors_are_optional_for_an_officer_and_can_be_turned_off(
    strict_app, db, people
) -> None:
    client = strict_app.test_client()
    with time_machine.travel(T0, tick=False) as traveller:
        login(client, "officer")
        assert signed_in(client)  # no enrolment asked
        page = client.get("/account/two-factor?lang=en")
        assert "Your role must" not in page.text
        secret, _codes = enrol(client, T0)
        enrolled = client.get("/account/two-factor?lang=en")
        assert "Two-step sign-in is on" in enrolled.text and "Turn off" in enrolled.text
        bad = client.post(
            "/account/two-factor/disable?lang=en", data={"current_password": "not-it-at-all"}
        )
        assert bad.status_code == 400 and "This is not your current password." in bad.text
        client.post("/logout")
        traveller.move_to(T0 + timedelta(seconds=30))
        assert login(client, "officer").location == "/login/code"
        client.post("/login/code", data={"code": pyotp.TOTP(secret).now()})
        off = client.post("/account/two-factor/disable", data={"current_password": PASSWORD})
        assert off.status_code == 302
        client.post("/logout")
        assert login(client, "officer").location == "/"


def test_province_staff_cannot_turn_two_factors_off(strict_app, db, people) -> None:
    client = strict_app.test_client()
    with time_machine.travel(T0, tick=False):
        login(client, "province")
        enrol(client, T0)
        page = client.get("/account/two-factor?lang=en")
        assert "cannot be turned off" in page.text and "current_password" not in page.text
        refused = client.post("/account/two-factor/disable", data={"current_password": PASSWORD})
        assert refused.status_code == 403
        assert "Two-step sign-in is on" in client.get("/account/two-factor?lang=en").text


def test_new_recovery_codes_replace_the_old(strict_app, db, people) -> None:
    client = strict_app.test_client()
    with time_machine.travel(T0, tick=False):
        login(client, "admin")
        _secret, old = enrol(client, T0)
        page = client.post("/account/two-factor/recovery-codes?lang=en")
        new = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", page.text)
        assert len(new) == 10 and not set(new) & set(old)
        client.post("/logout")
        login(client, "admin")
        assert client.post("/login/code", data={"code": old[0]}).status_code == 401
        assert client.post("/login/code", data={"code": new[0]}).status_code == 302


def test_the_enrolment_page_is_drawn_without_inline_script_or_style(strict_app, db, people):
    client = strict_app.test_client()
    login(client, "province")
    page = client.get("/account/two-factor").text
    assert "<script>" not in page and "style=" not in page and " on" + "load=" not in page
    assert re.search(r'<label[^>]*for="code"', page)


# --- forced password change -----------------------------------------------------------------


def test_after_a_reset_the_next_sign_in_must_change_the_password_first(client, db, people):
    temporary = reset_password(db, "officer")
    assert login(client, "officer", temporary).status_code == 302
    for path in ("/", "/inbox", "/account/two-factor"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer.location == "/password"
    page = client.get("/password?lang=en")
    assert "Your password was reset" in page.text
    same = client.post(
        "/password?lang=en",
        data={"current_password": temporary, "new_password": temporary, "confirm": temporary},
    )
    assert same.status_code == 400 and "other than the current one" in same.text
    new = "my-own-password-now"
    changed = client.post(
        "/password", data={"current_password": temporary, "new_password": new, "confirm": new}
    )
    assert changed.status_code == 302
    assert signed_in(client)


def test_a_new_password_needs_12_characters(client, db, people) -> None:
    login(client, "officer")
    short = "eleven-char"
    answer = client.post(
        "/password?lang=en",
        data={"current_password": PASSWORD, "new_password": short, "confirm": short},
    )
    assert answer.status_code == 400 and "Between 12 and 200 characters." in answer.text


# --- sessions -------------------------------------------------------------------------------


def test_every_sign_in_gets_a_new_session_id(app, client, db, people) -> None:
    client.get("/lang/en")  # a cookie before sign-in
    before = client.get_cookie("session").value
    login(client, "officer")
    first = client.get_cookie("session").value
    assert first != before
    stale = app.test_client()
    stale.set_cookie("session", first)
    client.post("/logout")
    login(client, "officer")
    assert client.get_cookie("session").value != first
    with db.uow(readonly=True) as uow:
        rows = list(uow.session.scalars(sa.select(UserSession).order_by(UserSession.id)))
    assert len(rows) == 2 and rows[0].token_hash != rows[1].token_hash
    assert rows[0].ended_reason == "logout" and rows[1].ended_at is None
    assert not signed_in(stale)


def test_a_fixated_cookie_does_not_carry_over_sign_in(app, client, db, people) -> None:
    """An attacker's pre-sign-in cookie, planted in the victim's browser, gains nothing."""
    attacker = app.test_client()
    attacker.get("/lang/en")
    planted = attacker.get_cookie("session").value
    victim = app.test_client()
    victim.set_cookie("session", planted)
    login(victim, "officer")
    assert victim.get_cookie("session").value != planted
    assert not signed_in(attacker)


# --- API tokens -----------------------------------------------------------------------------


def test_the_api_refuses_expired_and_revoked_tokens(client, db, people) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        short = create_token(db, "officer", days=1)
        kept = create_token(db, "officer")
        headers = {"Authorization": f"Bearer {short}"}
        assert client.get("/api/v1/cases", headers=headers).status_code == 200
        traveller.move_to(T0 + timedelta(days=1))
        expired = client.get("/api/v1/cases", headers=headers)
        assert expired.status_code == 401 and expired.json["error"] == "unauthorized"
        assert "expired" in expired.json["message"]
        kept_headers = {"Authorization": f"Bearer {kept}"}
        assert client.get("/api/v1/cases", headers=kept_headers).status_code == 200
        live = next(row for row in list_tokens(db, "officer") if row["state"] == "live")
        revoke(db, live["id"])
        assert client.get("/api/v1/cases", headers=kept_headers).status_code == 401


# --- CSRF -----------------------------------------------------------------------------------


class WithCsrf(TwoFactorRequired):
    WTF_CSRF_ENABLED = True


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, page
    return match.group(1)


def test_every_account_form_refuses_a_post_without_its_csrf_token(db, people) -> None:
    client = create_app(WithCsrf, db=db).test_client()
    with time_machine.travel(T0, tick=False) as traveller:
        token = csrf_token(client.get("/login").text)
        form = {"username": "officer", "password": PASSWORD}
        assert client.post("/login", data=form).status_code == 400
        assert client.post("/login", data={**form, "csrf_token": token}).status_code == 302
        page = client.get("/account/two-factor").text
        secret, token = secret_on(page), csrf_token(page)
        code = pyotp.TOTP(secret).at(T0)
        assert client.post("/account/two-factor", data={"code": code}).status_code == 400
        assert "Two-step sign-in is on" not in client.get("/account/two-factor?lang=en").text
        enrolled = client.post("/account/two-factor", data={"code": code, "csrf_token": token})
        assert enrolled.status_code == 200
        assert client.post("/account/two-factor/recovery-codes").status_code == 400
        assert client.post("/account/tokens", data={"days": "7"}).status_code == 400
        assert list_tokens(db, "officer") == []
        create_token(db, "officer")
        (row,) = list_tokens(db, "officer")
        assert client.post(f"/account/tokens/{row['id']}/revoke").status_code == 400
        assert list_tokens(db, "officer")[0]["state"] == "live"
        disable = {"current_password": PASSWORD}
        assert client.post("/account/two-factor/disable", data=disable).status_code == 400
        assert "Two-step sign-in is on" in client.get("/account/two-factor?lang=en").text
        client.post("/logout", data={"csrf_token": token})
        token = csrf_token(client.get("/login").text)
        assert client.post("/login", data={**form, "csrf_token": token}).location == "/login/code"
        traveller.move_to(T0 + timedelta(seconds=30))
        code = pyotp.TOTP(secret).now()
        assert client.post("/login/code", data={"code": code}).status_code == 400
        token = csrf_token(client.get("/login/code").text)
        answer = client.post("/login/code", data={"code": code, "csrf_token": token})
        assert answer.status_code == 302 and signed_in(client)


# --- one's own API tokens -------------------------------------------------------------------


def test_a_user_creates_sees_and_revokes_their_own_tokens(client, db, people) -> None:
    login(client, "police")
    page = client.post("/account/tokens?lang=en", data={"days": "7"})
    assert page.status_code == 200 and "shown only now" in page.text
    token = re.search(r'<code class="totp-secret">(cw_[^<]+)</code>', page.text).group(1)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/tasks", headers=headers).status_code == 200
    listing = client.get("/account/tokens?lang=en").text
    assert token not in listing and "in use" in listing  # the value is never shown again
    (row,) = list_tokens(db, "police")
    assert (row["expires_at"] - row["created_at"]) == timedelta(days=7)
    assert client.post(f"/account/tokens/{row['id']}/revoke").status_code == 302
    assert client.get("/api/v1/tasks", headers=headers).status_code == 401
    assert "revoked" in client.get("/account/tokens?lang=en").text


def test_someone_elses_token_cannot_be_revoked_from_the_page(client, db, people) -> None:
    token = create_token(db, "officer")
    (row,) = list_tokens(db, "officer")
    login(client, "chair")
    assert client.post(f"/account/tokens/{row['id']}/revoke").status_code == 404
    assert client.post("/account/tokens/99999/revoke").status_code == 404
    assert "officer" not in client.get("/account/tokens?lang=en").text
    assert (
        client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ("0", "A whole number from 1 to 366."),
        ("367", "A whole number from 1 to 366."),
        ("many", "A whole number from 1 to 366."),
        ("", "This field is required."),
    ],
)
def test_a_token_with_bad_days_is_not_created(client, db, people, days, message) -> None:
    login(client, "officer")
    page = client.post("/account/tokens?lang=en", data={"days": days})
    assert page.status_code == 400 and message in page.text
    assert list_tokens(db, "officer") == []


def test_the_tokens_page_needs_sign_in(client) -> None:
    answer = client.get("/account/tokens")
    assert answer.status_code == 302 and answer.location.startswith("/login")
    assert client.post("/account/tokens", data={"days": "7"}).status_code == 302


def test_every_page_sign_in_and_failure_is_audited_with_its_factor(strict_app, db, people):
    """Through the pages: a wrong password, a wrong code, a TOTP sign-in and a recovery-code
    sign-in each leave one audit event naming the user (never what was typed)."""
    from casework.models import AuditEvent

    client = strict_app.test_client()
    with time_machine.travel(T0, tick=False) as traveller:
        login(client, "admin")
        secret, codes = enrol(client, T0)
        client.post("/logout")
        login(client, "admin", "a-wrong-password-1")
        login(client, "admin")
        client.post("/login/code", data={"code": "000000"})
        traveller.shift(timedelta(seconds=60))
        client.post("/login/code", data={"code": pyotp.TOTP(secret).at(T0 + timedelta(seconds=60))})
        client.post("/logout")
        login(client, "admin")
        client.post("/login/code", data={"code": codes[0]})
    with db.uow(readonly=True) as uow:
        trail = [
            (event.action, event.actor, event.summary.get("reason") or event.summary.get("factor"))
            for event in uow.session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.action.like("user.login%"))
                .order_by(AuditEvent.id)
            )
        ]
    assert trail == [
        ("user.login", "admin", "password"),  # before enrolment: the password was all
        ("user.login_failed", "admin", "password"),
        ("user.login_failed", "admin", "second_factor"),
        ("user.login", "admin", "totp"),
        ("user.login", "admin", "recovery_code"),
    ]
