"""Accounts changed by administrators through the services: one lookup for every command
(an over-long name refused, never cut to somebody else's), province administrators kept to
their province, the last national administrator kept, tokens refused while the password
must be changed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from casework.errors import NotFound, PermissionDenied, ValidationError
from casework.models import User
from casework.services import twofactor
from casework.services.users import (
    create_token,
    create_user,
    list_tokens,
    reset_password,
    revoke_token,
    set_active,
    unlock,
    user_for_token,
)
from tests.conftest import PASSWORD


@pytest.fixture
def admins(people):
    people.make("admin.48", "admin", "48")
    return people


def test_an_over_long_name_is_refused_not_cut_to_another_users(db, people) -> None:
    long_name = "a" * 80
    create_user(db, long_name, "officer", PASSWORD, unit_code="20194")
    for command in (
        lambda name: set_active(db, name, False),
        lambda name: unlock(db, name),
        lambda name: reset_password(db, name),
        lambda name: twofactor.reset(db, name),
        lambda name: create_token(db, name),
    ):
        with pytest.raises(ValidationError) as refused:
            command(long_name + "b")
        assert refused.value.errors == {"username": "must be at most 80 characters"}
    assert list_tokens(db, long_name) == []
    with db.uow(readonly=True) as uow:
        user = uow.session.scalars(sa.select(User).where(User.username == long_name)).one()
        assert user.active and not user.must_change_password


@pytest.mark.parametrize(
    "command",
    [
        lambda db, actor: set_active(db, "officer.hn", False, actor=actor),
        lambda db, actor: unlock(db, "officer.hn", actor=actor),
        lambda db, actor: reset_password(db, "officer.hn", actor=actor),
        lambda db, actor: twofactor.reset(db, "officer.hn", actor=actor),
        lambda db, actor: create_token(db, "officer.hn", actor=actor),
        lambda db, actor: list_tokens(db, "officer.hn", actor=actor),
        lambda db, actor: set_active(db, "admin", False, actor=actor),
    ],
)
def test_a_province_administrator_does_not_reach_another_province(db, admins, command) -> None:
    with pytest.raises(NotFound):
        command(db, admins["admin.48"])


def test_other_roles_are_refused(db, people) -> None:
    with pytest.raises(PermissionDenied):
        set_active(db, "officer.2", False, actor=people["chair"])
    with pytest.raises(PermissionDenied):
        unlock(db, "officer.2", actor=people["chair"])
    with pytest.raises(PermissionDenied):
        twofactor.reset(db, "officer.2", actor=people["province"])


def test_a_province_administrator_revokes_only_its_provinces_tokens(db, admins) -> None:
    create_token(db, "officer.hn")
    create_token(db, "officer")
    hanoi, home = (
        list_tokens(db, "officer.hn")[0]["id"],
        list_tokens(db, "officer")[0]["id"],
    )
    with pytest.raises(NotFound):
        revoke_token(db, hanoi, actor=admins["admin.48"])
    revoke_token(db, home, actor=admins["admin.48"])
    assert list_tokens(db, "officer")[0]["state"] == "revoked"
    assert list_tokens(db, "officer.hn")[0]["state"] == "live"


def test_a_token_expiry_in_the_past_is_refused(db, people) -> None:
    with pytest.raises(ValidationError) as refused:
        create_token(db, "officer", expires_on=date.today() - timedelta(days=2))
    assert refused.value.errors == {"expires_on": "is in the past"}
    assert list_tokens(db, "officer") == []


def test_a_token_opens_nothing_while_its_users_password_must_be_changed(db, people) -> None:
    token = create_token(db, "officer", name="sync")
    assert user_for_token(db, token) is not None
    reset_password(db, "officer")
    assert user_for_token(db, token) is None


def test_a_token_opens_nothing_once_its_user_is_disabled(db, people) -> None:
    token = create_token(db, "officer")
    set_active(db, "officer", False)
    assert user_for_token(db, token) is None


def test_the_last_national_administrator_cannot_be_disabled(db, people) -> None:
    with pytest.raises(PermissionDenied, match="last active national administrator"):
        set_active(db, "admin", False)


def test_an_edit_keeps_an_agency_users_own_agency(db, people) -> None:
    from casework.models import Agency
    from casework.services.users import update_user

    police = people["police"]
    with db.uow() as uow:  # the user works at a second police agency of the same commune
        second = Agency(unit_id=police.unit_id, kind="police", name="Đồn 2")
        uow.session.add(second)
        uow.session.flush()
        uow.session.execute(sa.update(User).where(User.id == police.id).values(agency_id=second.id))
        uow.commit()
    with db.uow(readonly=True) as uow:
        before = uow.session.get(User, police.id)
        version, agency_id = before.version, before.agency_id
    update_user(
        db,
        "police",
        version,
        "agency",
        unit_code="20194",
        agency_kind="police",
        full_name="Công an phường",
    )
    with db.uow(readonly=True) as uow:
        after = uow.session.get(User, police.id)
        assert (after.full_name, after.agency_id) == ("Công an phường", agency_id)
        assert after.version == version + 1
