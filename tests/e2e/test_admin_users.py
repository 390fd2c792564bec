"""The administrators' pages for accounts and API tokens (/admin/users): who may use them
(national administrators everywhere, a province administrator in its province, nobody
else), what each action does and records, and bad input refused with nothing written."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from casework.clock import utcnow
from casework.models import ApiToken, AuditEvent, User
from casework.services import twofactor, user_queries
from casework.services.users import (
    create_token,
    create_user,
    get_user,
    list_tokens,
    record_failure,
)
from config import TestConfig
from tests.conftest import HANOI, HOME, PASSWORD
from web import create_app


@pytest.fixture
def admins(people) -> Any:
    """A province administrator for province 48 (the test units' home province) and one
    for Hà Nội (01), beside the national "admin"."""
    people.make("admin.48", "admin", "48")
    people.make("admin.01", "admin", "01")
    return people


def signed_in(app, username: str):
    client = app.test_client()
    answer = client.post("/login", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 302, username
    return client


def count(db, model) -> int:
    with db.uow(readonly=True) as uow:
        return int(uow.session.scalar(sa.select(sa.func.count()).select_from(model)))


def events(db, action: str) -> list[AuditEvent]:
    with db.uow(readonly=True) as uow:
        return list(
            uow.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def user_named(db, username: str) -> User:
    with db.uow(readonly=True) as uow:
        user = uow.session.scalars(sa.select(User).where(User.username == username)).one()
        _ = user.unit, user.agency
        return user


def error_next_to(page: str, field: str) -> str:
    """The message shown under a field (its errors list)."""
    match = re.search(rf'<ul class="field-errors" id="{field}-errors"><li>([^<]*)</li>', page)
    assert match, f"no error next to {field}"
    return match.group(1)


NEW_OFFICER = {
    "username": "officer.new",
    "full_name": "Trần Văn Mới",
    "email": "moi@example.org",
    "role": "officer",
    "unit": HOME,
    "unit-q": "Xã Home",
    "agency": "",
    "password": "initial-password-2027",
}


# --- the list -------------------------------------------------------------------------------


def test_the_national_administrator_lists_every_account(app, admins) -> None:
    page = signed_in(app, "admin").get("/admin/users?lang=en").text
    for username in ("officer", "officer.hn", "province.hn", "intake.111", "admin.01"):
        assert f">{username}</a>" in page


def test_a_province_administrator_lists_only_its_provinces_accounts(app, admins) -> None:
    page = signed_in(app, "admin.48").get("/admin/users?lang=en").text
    for username in ("officer", "chair.2", "province", "police", "admin.48"):
        assert f">{username}</a>" in page
    for username in ("officer.hn", "province.hn", "intake.111", "admin", "admin.01"):
        assert f">{username}</a>" not in page


def test_the_list_searches_and_filters(app, db, admins) -> None:
    client = signed_in(app, "admin")
    page = client.get("/admin/users?q=chair").text
    assert ">chair</a>" in page and ">chair.2</a>" in page and ">officer</a>" not in page
    page = client.get("/admin/users?role=agency").text
    assert ">police</a>" in page and ">officer</a>" not in page
    page = client.get(f"/admin/users?unit={HANOI}").text
    assert ">officer.hn</a>" in page and ">officer</a>" not in page
    for _ in range(5):
        record_failure(db, user_named(db, "chair.2"), "password", utcnow())
    page = client.get("/admin/users?status=locked").text
    assert ">chair.2</a>" in page and ">chair</a>" not in page
    client.post("/admin/users/officer.2/disable")
    page = client.get("/admin/users?status=disabled").text
    assert ">officer.2</a>" in page and ">officer</a>" not in page
    # Out-of-list values are ignored rather than trusted.
    assert client.get("/admin/users?role=nobody&status=x&page=zz").status_code == 200


def test_the_list_pages(app, admins, monkeypatch) -> None:
    monkeypatch.setattr(user_queries, "PER_PAGE", 5)
    client = signed_in(app, "admin")
    first = client.get("/admin/users?lang=en").text
    assert "Page 1 of 3" in first  # 14 accounts
    third = client.get("/admin/users?lang=en&page=3").text
    assert "Page 3 of 3" in third and "Previous page" in third
    names = re.findall(r'href="/admin/users/([a-z0-9._-]+)">\1<', first + third)
    assert len(names) == 5 + 4


# --- creating an account ----------------------------------------------------------------------


def test_an_administrator_creates_a_user_who_must_change_the_password(app, db, admins) -> None:
    client = signed_in(app, "admin")
    form = client.get("/admin/users/new?lang=en").text
    for name in ("username", "full_name", "email", "role", "unit-q", "agency", "password"):
        assert f'id="{name}"' in form
    answer = client.post("/admin/users/new?lang=en", data=NEW_OFFICER)
    assert answer.status_code == 200
    assert "The account officer.new was created." in answer.text
    assert NEW_OFFICER["password"] not in answer.text
    user = user_named(db, "officer.new")
    assert (user.role, user.unit.code, user.full_name) == ("officer", HOME, "Trần Văn Mới")
    assert user.must_change_password
    (event,) = events(db, "user.created")[-1:]
    assert event.actor == "admin" and event.summary["username"] == "officer.new"
    assert NEW_OFFICER["password"] not in str(event.summary)
    newcomer = app.test_client()
    newcomer.post("/login", data={"username": "officer.new", "password": NEW_OFFICER["password"]})
    assert newcomer.get("/").location == "/password"


def test_a_blank_password_gives_a_temporary_one_shown_once(app, db, admins) -> None:
    client = signed_in(app, "admin")
    answer = client.post("/admin/users/new", data={**NEW_OFFICER, "password": ""})
    temporary = re.search(r'id="temporary-password">([^<]+)<', answer.text).group(1)
    assert len(temporary) >= 12
    assert temporary not in client.get("/admin/users/officer.new").text
    newcomer = app.test_client()
    signed = newcomer.post("/login", data={"username": "officer.new", "password": temporary})
    assert signed.status_code == 302
    assert newcomer.get("/").location == "/password"


def test_an_agency_user_is_created_with_its_agency(app, db, admins) -> None:
    client = signed_in(app, "admin.48")
    data = {**NEW_OFFICER, "username": "health.new", "role": "agency", "agency": "health"}
    assert client.post("/admin/users/new", data=data).status_code == 200
    user = user_named(db, "health.new")
    assert (user.role, user.agency.kind, user.unit.code) == ("agency", "health", HOME)


BAD_NEW_USER = [
    ({"username": "officer"}, "username", "is already taken: choose another username"),
    ({"username": "x" * 81}, "username", "must be at most 80 characters"),
    ({"username": "Bad Name!"}, "username", "3 to 80 characters"),
    ({"unit": "99999", "unit-q": "99999"}, "unit", "no unit has this code"),
    ({"unit": "", "unit-q": "Somewhere"}, "unit", "choose the unit from the list"),
    ({"unit": "20308", "unit-q": "20308"}, "unit", "this unit no longer exists"),
    ({"unit": "48", "unit-q": "48"}, "unit", "this role needs a commune"),
    ({"role": "agency"}, "agency", "choose the agency this user works for"),
    ({"role": "boss"}, "role", "is not one of the choices"),
    ({"full_name": "N" * 201}, "full_name", "must be at most 200 characters"),
    ({"email": "not-an-address"}, "email", "is not an e-mail address"),
    ({"password": "short"}, "password", "must be at least 12 characters"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_NEW_USER)
def test_bad_input_shows_the_form_with_the_message_and_writes_nothing(
    app, db, admins, change, field, message
) -> None:
    client = signed_in(app, "admin")
    users_before, audit_before = count(db, User), count(db, AuditEvent)
    answer = client.post("/admin/users/new?lang=en", data={**NEW_OFFICER, **change})
    assert answer.status_code == 422
    assert message in error_next_to(answer.text, field)
    assert "Nothing was saved" in answer.text
    assert (count(db, User), count(db, AuditEvent)) == (users_before, audit_before)


def test_bad_input_is_told_in_vietnamese_too(app, db, admins) -> None:
    client = signed_in(app, "admin")
    answer = client.post("/admin/users/new?lang=vi", data={**NEW_OFFICER, "username": "officer"})
    assert answer.status_code == 422
    assert "đã có người dùng" in error_next_to(answer.text, "username")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"role": "admin", "unit": "", "unit-q": ""}, "role", "only a national administrator"),
        ({"unit": "00004", "unit-q": "00004"}, "unit", "outside the province you administer"),
        ({"role": "province", "unit": "01", "unit-q": "01"}, "unit", "outside the province"),
        ({"role": "intake", "unit": "", "unit-q": ""}, "unit", "outside the province"),
    ],
)
def test_a_province_administrator_creates_accounts_in_its_province_only(
    app, db, admins, change, field, message
) -> None:
    client = signed_in(app, "admin.48")
    before = count(db, User)
    answer = client.post("/admin/users/new?lang=en", data={**NEW_OFFICER, **change})
    assert answer.status_code == 422
    assert message in error_next_to(answer.text, field)
    assert count(db, User) == before


def test_a_province_administrator_may_create_a_province_administrator_of_its_own(
    app, db, admins
) -> None:
    client = signed_in(app, "admin.48")
    data = {**NEW_OFFICER, "username": "admin.48b", "role": "admin", "unit": "48"}
    assert client.post("/admin/users/new", data=data).status_code == 200
    assert user_named(db, "admin.48b").unit.code == "48"


def test_the_unit_typeahead_offers_only_administered_units(app, admins) -> None:
    national = signed_in(app, "admin").get("/admin/users/units?unit-q=a").text
    provincial = signed_in(app, "admin.48").get("/admin/users/units?unit-q=a").text
    assert f'data-unit-code="{HANOI}"' in national
    assert f'data-unit-code="{HANOI}"' not in provincial
    assert f'data-unit-code="{HOME}"' in provincial


# --- editing an account -----------------------------------------------------------------------


def edit_form(client, username: str) -> dict[str, str]:
    page = client.get(f"/admin/users/{username}").text
    version = re.search(r'id="version" name="version" type="hidden" value="(\d+)"', page)
    assert version, page
    user_unit = re.search(r'id="unit" name="unit" value="([^"]*)"', page).group(1)
    return {
        "full_name": "",
        "email": "",
        "role": re.search(r'<option selected value="([a-z]+)">', page).group(1),
        "unit": user_unit,
        "agency": "",
        "version": version.group(1),
    }


def test_an_administrator_moves_an_officer_to_another_commune(app, db, admins) -> None:
    from tests.conftest import NEIGHBOUR

    client = signed_in(app, "admin.48")
    form = edit_form(client, "officer")
    answer = client.post("/admin/users/officer", data={**form, "unit": NEIGHBOUR, "role": "chair"})
    assert answer.status_code == 302
    user = user_named(db, "officer")
    assert (user.role, user.unit.code) == ("chair", NEIGHBOUR)
    (event,) = events(db, "user.updated")
    assert event.actor == "admin.48"
    assert event.summary["changed"]["role"] == ["officer", "chair"]
    assert event.summary["changed"]["unit"] == [HOME, NEIGHBOUR]


def test_a_stale_edit_is_refused_and_writes_nothing(app, db, admins) -> None:
    first, second = signed_in(app, "admin"), signed_in(app, "admin.48")
    form_first, form_second = edit_form(first, "officer"), edit_form(second, "officer")
    assert (
        first.post("/admin/users/officer", data={**form_first, "role": "chair"}).status_code == 302
    )
    stale = second.post(
        "/admin/users/officer?lang=en", data={**form_second, "full_name": "Somebody"}
    )
    assert stale.status_code == 409
    assert "Somebody else changed this user" in stale.text
    user = user_named(db, "officer")
    assert (user.role, user.full_name) == ("chair", "")
    assert len(events(db, "user.updated")) == 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"role": "province"}, "unit", "this role needs a province"),
        ({"unit": "99999"}, "unit", "no unit has this code"),
        ({"unit": "00004"}, "unit", "outside the province you administer"),
        ({"email": "x@"}, "email", "is not an e-mail address"),
        ({"full_name": "x" * 201}, "full_name", "must be at most 200 characters"),
    ],
)
def test_a_bad_edit_shows_the_form_with_the_message(
    app, db, admins, change, field, message
) -> None:
    client = signed_in(app, "admin.48")
    form = edit_form(client, "officer")
    audit_before = count(db, AuditEvent)
    answer = client.post("/admin/users/officer?lang=en", data={**form, **change})
    assert answer.status_code == 422
    assert message in error_next_to(answer.text, field)
    assert user_named(db, "officer").unit.code == HOME
    assert count(db, AuditEvent) == audit_before


def test_an_administrator_does_not_change_its_own_role(app, db, admins) -> None:
    client = signed_in(app, "admin.48")
    form = edit_form(client, "admin.48")
    answer = client.post("/admin/users/admin.48?lang=en", data={**form, "role": "province"})
    assert answer.status_code == 403
    assert "You cannot change your own role or unit" in answer.text
    assert user_named(db, "admin.48").role == "admin"


# --- disable, enable, unlock, reset -----------------------------------------------------------


def test_disabling_ends_sign_in_and_enabling_restores_it(app, db, admins) -> None:
    client = signed_in(app, "admin.48")
    victim = signed_in(app, "officer")
    assert client.post("/admin/users/officer/disable").status_code == 302
    assert not user_named(db, "officer").active
    assert victim.get("/").status_code == 302  # its session ended
    refused = app.test_client().post("/login", data={"username": "officer", "password": PASSWORD})
    assert refused.status_code == 401  # the sign-in page again
    assert events(db, "user.disabled")[-1].actor == "admin.48"
    assert client.post("/admin/users/officer/enable").status_code == 302
    assert user_named(db, "officer").active
    assert events(db, "user.enabled")[-1].actor == "admin.48"
    signed_in(app, "officer")


def test_nobody_disables_their_own_account(app, db, admins) -> None:
    answer = signed_in(app, "admin").post("/admin/users/admin/disable?lang=en")
    assert answer.status_code == 403
    assert "You cannot disable your own account." in answer.text
    assert user_named(db, "admin").active


def test_the_last_national_administrator_stays(db, admins) -> None:
    from casework.errors import PermissionDenied
    from casework.services.users import set_active, update_user

    with pytest.raises(PermissionDenied, match="last active national administrator"):
        set_active(db, "admin", False)
    version = user_named(db, "admin").version
    with pytest.raises(PermissionDenied, match="last active national administrator"):
        update_user(db, "admin", version, "admin", unit_code="48")
    second = create_user(db, "admin.two", "admin", PASSWORD)
    set_active(db, "admin", False, actor=second)
    assert not user_named(db, "admin").active


def test_a_locked_account_is_unlocked(app, db, admins) -> None:
    for _ in range(5):
        record_failure(db, user_named(db, "officer"), "password", utcnow())
    client = signed_in(app, "admin")
    assert "Unlock the account" in client.get("/admin/users/officer?lang=en").text
    assert client.post("/admin/users/officer/unlock").status_code == 302
    user = user_named(db, "officer")
    assert (user.failed_logins, user.locked_until) == (0, None)
    assert events(db, "user.unlocked")[-1].actor == "admin"
    signed_in(app, "officer")


def test_a_password_reset_shows_the_temporary_password_once(app, db, admins) -> None:
    client = signed_in(app, "admin")
    answer = client.post("/admin/users/officer/reset-password?lang=en")
    assert answer.status_code == 200
    temporary = re.search(r'id="temporary-password">([^<]+)<', answer.text).group(1)
    assert temporary not in client.get("/admin/users/officer").text
    assert user_named(db, "officer").must_change_password
    (event,) = events(db, "user.password_reset")
    assert event.actor == "admin" and temporary not in str(event.summary)
    user = app.test_client()
    assert (
        user.post("/login", data={"username": "officer", "password": PASSWORD}).status_code == 401
    )
    user.post("/login", data={"username": "officer", "password": temporary})
    assert user.get("/").location == "/password"


def test_two_factors_are_reset(app, db, admins) -> None:
    import pyotp

    secret = twofactor.begin_enrolment(db, admins["province"].id)
    twofactor.confirm_enrolment(db, admins["province"].id, pyotp.TOTP(secret).now())
    client = signed_in(app, "admin.48")
    assert "Turn two-step sign-in off" in client.get("/admin/users/province?lang=en").text
    assert client.post("/admin/users/province/reset-two-factor").status_code == 302
    assert get_user(db, admins["province"].id).totp_confirmed_at is None
    assert events(db, "user.two_factor_disabled")[-1].actor == "admin.48"


# --- API tokens -----------------------------------------------------------------------------


def test_an_administrator_creates_lists_and_revokes_a_users_token(app, db, api, admins) -> None:
    client = signed_in(app, "admin.48")
    answer = client.post(
        "/admin/users/officer/tokens?lang=en",
        data={"name": "reporting script", "expires_on": "2099-01-01"},
    )
    assert answer.status_code == 422  # more than a year ahead
    answer = client.post(
        "/admin/users/officer/tokens?lang=en",
        data={"name": "reporting script", "expires_on": utcnow().date().isoformat()},
    )
    assert answer.status_code == 200
    token = re.search(r'id="new-token">([^<]+)<', answer.text).group(1)
    headers = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/cases", headers=headers).status_code == 200
    page = client.get("/admin/users/officer?lang=en").text
    assert token not in page
    assert "reporting script" in page and "in use" in page
    (row,) = list_tokens(db, "officer")
    assert row["last_used_at"] is not None
    (event,) = events(db, "token.created")
    assert event.actor == "admin.48" and token not in str(event.summary)
    assert client.post(f"/admin/users/officer/tokens/{row['id']}/revoke").status_code == 302
    assert app.test_client().get("/api/v1/cases", headers=headers).status_code == 401
    assert events(db, "token.revoked")[-1].actor == "admin.48"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "x", "expires_on": "2020-01-01"}, "expires_on", "is in the past"),
        ({"name": "x", "expires_on": "soon"}, "expires_on", "must be a date"),
        ({"name": "", "expires_on": "2099-01-01"}, "name", "is required"),
        ({"name": "x" * 81, "expires_on": "2099-01-01"}, "name", "must be at most 80"),
    ],
)
def test_a_bad_token_form_writes_nothing(app, db, admins, data, field, message) -> None:
    client = signed_in(app, "admin")
    before = count(db, ApiToken), count(db, AuditEvent)
    answer = client.post("/admin/users/officer/tokens?lang=en", data=data)
    assert answer.status_code == 422
    assert message in error_next_to(answer.text, field)
    assert (count(db, ApiToken), count(db, AuditEvent)) == before


def test_a_token_of_another_users_number_is_not_revoked_through_this_user(app, db, admins) -> None:
    create_token(db, "officer.2")
    (row,) = list_tokens(db, "officer.2")
    client = signed_in(app, "admin")
    assert client.post(f"/admin/users/officer/tokens/{row['id']}/revoke").status_code == 404
    assert list_tokens(db, "officer.2")[0]["state"] == "live"


def test_tokens_are_refused_while_a_password_must_be_changed_or_the_user_is_disabled(
    app, db, admins
) -> None:
    from casework.services.users import reset_password, set_active

    headers = {"Authorization": f"Bearer {create_token(db, 'officer')}"}
    client = app.test_client()
    assert client.get("/api/v1/cases", headers=headers).status_code == 200
    reset_password(db, "officer")
    assert client.get("/api/v1/cases", headers=headers).status_code == 401
    with db.uow() as uow:
        uow.session.execute(
            sa.update(User).where(User.username == "officer").values(must_change_password=False)
        )
        uow.commit()
    assert client.get("/api/v1/cases", headers=headers).status_code == 200
    set_active(db, "officer", False)
    assert client.get("/api/v1/cases", headers=headers).status_code == 401


# --- who may -------------------------------------------------------------------------------

#: Every page and action, with its method; {u} is the account acted on.
ROUTES = [
    ("GET", "/admin/users"),
    ("GET", "/admin/users/new"),
    ("POST", "/admin/users/new"),
    ("GET", "/admin/users/units?unit-q=a"),
    ("GET", "/admin/users/{u}"),
    ("POST", "/admin/users/{u}"),
    ("POST", "/admin/users/{u}/disable"),
    ("POST", "/admin/users/{u}/enable"),
    ("POST", "/admin/users/{u}/unlock"),
    ("POST", "/admin/users/{u}/reset-password"),
    ("POST", "/admin/users/{u}/reset-two-factor"),
    ("POST", "/admin/users/{u}/tokens"),
    ("POST", "/admin/users/{u}/tokens/1/revoke"),
]


@pytest.mark.parametrize("role", ["intake", "officer", "chair", "province", "police"])
def test_every_other_role_is_refused_every_page_and_action(app, db, admins, role) -> None:
    client = signed_in(app, role)
    audit_before = count(db, AuditEvent)
    for method, path in ROUTES:
        answer = client.open(path.format(u="officer.2"), method=method, data=NEW_OFFICER)
        assert answer.status_code == 403, (role, method, path)
    assert count(db, User) == 14
    # Only the sign-in itself was recorded.
    assert count(db, AuditEvent) == audit_before


def test_anonymous_is_sent_to_sign_in(app, admins) -> None:
    client = app.test_client()
    for method, path in ROUTES:
        answer = client.open(path.format(u="officer"), method=method)
        assert answer.status_code == 302 and answer.location.startswith("/login"), path


def test_a_province_administrator_cannot_touch_another_provinces_account(app, db, admins) -> None:
    create_token(db, "officer.hn")
    client = signed_in(app, "admin.48")
    audit_before = count(db, AuditEvent)
    for method, path in ROUTES[4:]:
        answer = client.open(path.format(u="officer.hn"), method=method, data={"version": "1"})
        assert answer.status_code == 404, (method, path)
    for username in ("admin", "intake.111", "admin.01"):
        assert client.get(f"/admin/users/{username}").status_code == 404
    assert count(db, AuditEvent) == audit_before
    assert user_named(db, "officer.hn").active


def test_a_national_administrator_reaches_every_province(app, admins) -> None:
    client = signed_in(app, "admin")
    for username in ("officer", "officer.hn", "admin.01", "intake.111"):
        assert client.get(f"/admin/users/{username}").status_code == 200


def test_an_over_long_or_odd_username_in_the_address_is_not_found(app, admins) -> None:
    client = signed_in(app, "admin")
    assert client.get("/admin/users/" + "x" * 300).status_code == 404
    assert client.post("/admin/users/" + "x" * 300 + "/disable").status_code == 404


class WithCsrf(TestConfig):
    WTF_CSRF_ENABLED = True


def test_every_action_refuses_a_post_without_its_csrf_token(db, admins) -> None:
    app = create_app(WithCsrf, db=db)
    client = app.test_client()
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    login = {"username": "admin", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302
    create_token(db, "officer")
    audit_before = count(db, AuditEvent)
    for method, path in ROUTES:
        if method == "POST":
            answer = client.post(path.format(u="officer"), data=NEW_OFFICER)
            assert answer.status_code == 400, path
    assert count(db, AuditEvent) == audit_before
    assert user_named(db, "officer").active


def test_a_province_administrator_acts_on_its_provinces_accounts(app, db, admins) -> None:
    client = signed_in(app, "admin.48")
    done = {
        action: client.post(f"/admin/users/chair.2/{action}").status_code
        for action in ("unlock", "reset-password", "reset-two-factor", "disable", "enable")
    }
    assert done == {
        "unlock": 302,
        "reset-password": 200,  # the temporary password, shown once
        "reset-two-factor": 302,
        "disable": 302,
        "enable": 302,
    }
    actors = {
        event.action: event.actor
        for action in (
            "user.unlocked",
            "user.password_reset",
            "user.two_factor_disabled",
            "user.disabled",
            "user.enabled",
        )
        for event in events(db, action)
    }
    assert set(actors.values()) == {"admin.48"} and len(actors) == 5
