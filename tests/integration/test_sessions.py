"""Server-side web sessions (casework.services.sessions) and the user changes that end them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from casework.errors import NotFound, ValidationError
from casework.models import AuditEvent, UserSession
from casework.services import sessions
from casework.services.users import authenticate, change_password, set_active
from tests.conftest import PASSWORD, at

T0 = at("2027-03-01T08:00:00")


def rows(db) -> list[UserSession]:
    with db.uow(readonly=True) as uow:
        return list(uow.session.scalars(sa.select(UserSession).order_by(UserSession.id)))


def test_only_a_hash_of_the_token_is_stored(db, people) -> None:
    token = sessions.start(db, people["officer"], now=T0)
    (row,) = rows(db)
    assert token not in row.token_hash and len(row.token_hash) == 64
    assert sessions.resolve(db, token, now=T0).username == "officer"
    assert sessions.resolve(db, token + "x", now=T0) is None
    assert sessions.resolve(db, "", now=T0) is None
    assert sessions.resolve(db, "\x00\ud800" * 10, now=T0) is None  # never a 500


def test_sign_out_ends_the_row_with_its_reason(db, people) -> None:
    token = sessions.start(db, people["officer"], now=T0)
    sessions.end(db, token, now=T0 + timedelta(minutes=5))
    (row,) = rows(db)
    assert row.ended_reason == "logout" and row.ended_at == T0 + timedelta(minutes=5)
    assert sessions.resolve(db, token, now=T0 + timedelta(minutes=6)) is None
    sessions.end(db, token, now=T0 + timedelta(minutes=7))  # again: nothing changes
    assert rows(db)[0].ended_at == T0 + timedelta(minutes=5)


def test_idle_and_absolute_timeouts_end_the_row(db, people) -> None:
    idle = sessions.start(db, people["officer"], now=T0)
    busy = sessions.start(db, people["chair"], now=T0)
    for minutes in range(25, 8 * 60, 25):  # a request every 25 minutes
        assert sessions.resolve(db, busy, now=T0 + timedelta(minutes=minutes)) is not None
    assert sessions.resolve(db, idle, now=T0 + timedelta(minutes=30)) is None
    assert sessions.resolve(db, busy, now=T0 + timedelta(hours=8)) is None
    assert [row.ended_reason for row in rows(db)] == ["idle", "expired"]


def test_disabling_ends_every_session_of_that_user_only(db, people) -> None:
    first = sessions.start(db, people["officer"], now=T0)
    second = sessions.start(db, people["officer"], now=T0)
    other = sessions.start(db, people["chair"], now=T0)
    set_active(db, "officer", False, actor=people["admin"], now=T0 + timedelta(minutes=1))
    assert sessions.resolve(db, first, now=T0 + timedelta(minutes=2)) is None
    assert sessions.resolve(db, second, now=T0 + timedelta(minutes=2)) is None
    assert sessions.resolve(db, other, now=T0 + timedelta(minutes=2)) is not None
    assert [row.ended_reason for row in rows(db)] == ["user_disabled", "user_disabled", None]
    assert authenticate(db, "officer", PASSWORD).user is None
    with db.uow(readonly=True) as uow:
        actions = list(uow.session.scalars(sa.select(AuditEvent.action)))
    assert "user.disabled" in actions
    with pytest.raises(NotFound):
        set_active(db, "nobody", False)


def test_a_password_change_keeps_only_the_session_that_made_it(db, people) -> None:
    here = sessions.start(db, people["officer"], now=T0)
    elsewhere = sessions.start(db, people["officer"], now=T0)
    officer_id = people["officer"].id
    change_password(db, officer_id, PASSWORD, "new-password-123", keep_session=here, now=T0)
    assert sessions.resolve(db, here, now=T0) is not None
    assert sessions.resolve(db, elsewhere, now=T0) is None
    assert authenticate(db, "officer", "new-password-123").user is not None


@pytest.mark.parametrize(
    ("current", "new", "field"),
    [
        ("wrong-password", "new-password-123", "current_password"),
        (PASSWORD, "short", "new_password"),
        (PASSWORD, "x" * 201, "new_password"),
    ],
)
def test_a_refused_password_change_writes_nothing(db, people, current, new, field) -> None:
    elsewhere = sessions.start(db, people["officer"], now=T0)
    with pytest.raises(ValidationError) as refused:
        change_password(db, people["officer"].id, current, new, now=T0)
    assert list(refused.value.errors) == [field]
    assert sessions.resolve(db, elsewhere, now=T0) is not None
    assert authenticate(db, "officer", PASSWORD).user is not None


def test_disable_and_enable_from_the_command_line_and_only_by_administrators(db, people) -> None:
    from click.testing import CliRunner

    from casework.cli import main
    from casework.errors import PermissionDenied
    from casework.services.users import set_active, user_for_token
    from tests.e2e.conftest import create_token

    token = create_token(db, "officer")
    with pytest.raises(PermissionDenied):
        set_active(db, "officer", False, actor=people["chair"])
    assert user_for_token(db, token) is not None
    runner = CliRunner()
    url = str(db.engine.url.render_as_string(hide_password=False))
    env = {"CASEWORK_AUDIT_KEY": "test-audit-key"}
    done = runner.invoke(main, ["--database-url", url, "users", "disable", "officer"], env=env)
    assert done.exit_code == 0, done.output
    assert user_for_token(db, token) is None  # a disabled user's token is refused
    unknown = runner.invoke(main, ["--database-url", url, "users", "disable", "nobody"], env=env)
    assert unknown.exit_code == 1 and "nobody" in unknown.output
    assert (
        runner.invoke(
            main, ["--database-url", url, "users", "enable", "officer"], env=env
        ).exit_code
        == 0
    )
    assert user_for_token(db, token) is not None
