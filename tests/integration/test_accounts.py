"""Accounts: lockout with backoff held in the database, password resets, API token expiry and
revocation, the command line for them, and that sign-ins are audited without secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from casework.cli import main
from casework.db import Database
from casework.errors import NotFound, PermissionDenied, ValidationError
from casework.models import AuditEvent
from casework.services import sessions
from casework.services.users import (
    LOCKOUT_AFTER,
    SignInResult,
    authenticate,
    change_password,
    complete_sign_in,
    create_token,
    list_tokens,
    lockout_for,
    reset_password,
    revoke_token,
    unlock,
    user_for_token,
)
from tests.conftest import PASSWORD, TEST_SETTINGS, at

ROOT = Path(__file__).resolve().parents[2]
T0 = at("2027-03-01T08:00:00")


def actions(db) -> list[tuple[str, dict]]:
    with db.uow(readonly=True) as uow:
        return [
            (event.action, event.summary)
            for event in uow.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))
        ]


@pytest.fixture
def run(db, db_url):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(
            main,
            ["--database-url", db_url, *args],
            input=input,
            env={"CASEWORK_AUDIT_KEY": "test-audit-key"},
        )

    return invoke


def test_backoff_grows_from_the_fifth_failure_and_is_capped() -> None:
    assert [lockout_for(n) for n in range(LOCKOUT_AFTER)] == [None] * LOCKOUT_AFTER
    assert lockout_for(5) == timedelta(minutes=1)
    assert lockout_for(6) == timedelta(minutes=2)
    assert lockout_for(8) == timedelta(minutes=8)
    assert lockout_for(50) == timedelta(hours=1)


def test_25_wrong_passwords_then_the_right_one_does_not_sign_in(db, people) -> None:
    for n in range(25):
        assert authenticate(db, "officer", f"guess-{n}", now=T0).user is None
    refused = authenticate(db, "officer", PASSWORD, now=T0)
    assert refused.result == SignInResult.LOCKED and refused.user is None
    # Guesses while locked are refused unchecked (they neither count nor get an answer);
    # the lock from the fifth failure lasts a minute.
    assert authenticate(db, "officer", PASSWORD, now=T0 + timedelta(seconds=59)).user is None
    assert authenticate(db, "officer", PASSWORD, now=T0 + timedelta(minutes=1)).user is not None


def test_the_lock_grows_with_each_failure_after_the_fifth(db, people) -> None:
    for _ in range(LOCKOUT_AFTER):
        authenticate(db, "officer", "wrong-password", now=T0)
    assert authenticate(db, "officer", PASSWORD, now=T0 + timedelta(seconds=59)).user is None
    later = T0 + timedelta(minutes=1)
    assert authenticate(db, "officer", "wrong-again", now=later).result == SignInResult.LOCKED
    # The sixth failure locks for two minutes from then.
    assert authenticate(db, "officer", PASSWORD, now=later + timedelta(seconds=119)).user is None
    assert authenticate(db, "officer", PASSWORD, now=later + timedelta(minutes=2)).user


def test_a_success_resets_the_count(db, people) -> None:
    for _ in range(LOCKOUT_AFTER - 1):
        authenticate(db, "officer", "wrong-password", now=T0)
    answer = authenticate(db, "officer", PASSWORD, now=T0)
    complete_sign_in(db, answer.user, "password", now=T0)
    for _ in range(LOCKOUT_AFTER - 1):
        authenticate(db, "officer", "wrong-password", now=T0)
    assert authenticate(db, "officer", PASSWORD, now=T0).result == SignInResult.OK


FAIL_IN_ANOTHER_PROCESS = """
import sys
from casework.db import Database, Settings
from casework.services.users import authenticate
db = Database(sys.argv[1], Settings(audit_key=b"test-audit-key"))
print(",".join(authenticate(db, "officer", "wrong-" + str(n)).result for n in range(3)))
db.dispose()
"""


def test_the_lockout_holds_across_processes(db, db_url, people) -> None:
    # Three failures in another process (its own engine and pool), two in this one: locked
    # here and in a third process, whose engine has never seen a failure.
    other = subprocess.run(
        [sys.executable, "-c", FAIL_IN_ANOTHER_PROCESS, db_url],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.stdout.strip() == "wrong,wrong,wrong", other.stderr
    here = Database(db_url, TEST_SETTINGS)
    try:
        assert authenticate(here, "officer", "wrong-3").result == SignInResult.WRONG
        assert authenticate(here, "officer", "wrong-4").result == SignInResult.LOCKED
    finally:
        here.dispose()
    third = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from casework.db import Database, Settings\n"
            "from casework.services.users import authenticate\n"
            "db = Database(sys.argv[1], Settings(audit_key=b'test-audit-key'))\n"
            f"print(authenticate(db, 'officer', {PASSWORD!r}).result)\n",
            db_url,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert third.stdout.strip() == "locked", third.stderr


def test_the_api_token_path_is_not_locked_out(db, people) -> None:
    token = create_token(db, "officer")
    for _ in range(10):
        authenticate(db, "officer", "wrong-password")
    assert authenticate(db, "officer", PASSWORD).result == SignInResult.LOCKED
    assert user_for_token(db, token).username == "officer"


def test_every_sign_in_and_failure_is_audited_without_the_password(db, people) -> None:
    authenticate(db, "officer", "my-secret-guess-1", now=T0)
    authenticate(db, "nobody-here", "my-secret-guess-2", now=T0)
    complete_sign_in(db, authenticate(db, "chair", PASSWORD, now=T0).user, "password", now=T0)
    trail = [(a, s) for a, s in actions(db) if a.startswith("user.login")]
    assert trail == [
        (
            "user.login_failed",
            {"reason": "password", "user_id": people["officer"].id, "failures": 1},
        ),
        ("user.login_failed", {"reason": "unknown_user"}),
        ("user.login", {"user_id": people["chair"].id, "factor": "password"}),
    ]
    text = json.dumps(actions(db))
    assert "my-secret-guess" not in text and "nobody-here" not in text and PASSWORD not in text


def test_a_locked_account_refusing_the_right_password_is_audited(db, people) -> None:
    for _ in range(LOCKOUT_AFTER):
        authenticate(db, "officer", "wrong-password", now=T0)
    authenticate(db, "officer", PASSWORD, now=T0)
    (last_action, summary) = actions(db)[-1]
    assert last_action == "user.login_refused" and summary["reason"] == "locked"
    failures = [s for a, s in actions(db) if a == "user.login_failed"]
    assert failures[-1]["locked_until"] == (T0 + timedelta(minutes=1)).isoformat("T", "seconds")


def test_an_administrator_unlocks_others_do_not(db, people) -> None:
    for _ in range(LOCKOUT_AFTER):
        authenticate(db, "officer", "wrong-password", now=T0)
    with pytest.raises(PermissionDenied):
        unlock(db, "officer", actor=people["province"], now=T0)
    assert authenticate(db, "officer", PASSWORD, now=T0).result == SignInResult.LOCKED
    unlock(db, "officer", actor=people["admin"], now=T0)
    assert authenticate(db, "officer", PASSWORD, now=T0).result == SignInResult.OK
    assert ("user.unlocked", {"user_id": people["officer"].id, "was_locked": True}) in actions(db)
    with pytest.raises(NotFound):
        unlock(db, "nobody", actor=people["admin"])


def test_users_unlock_on_the_command_line(run, db, people) -> None:
    for _ in range(LOCKOUT_AFTER):
        authenticate(db, "officer", "wrong-password")
    result = run("users", "unlock", "officer")
    assert result.exit_code == 0 and "unlocked user officer" in result.output
    assert authenticate(db, "officer", PASSWORD).result == SignInResult.OK
    missing = run("users", "unlock", "nobody")
    assert missing.exit_code == 1 and "no user named 'nobody'" in missing.output


def test_a_reset_password_must_be_changed_and_ends_every_session(db, people) -> None:
    session = sessions.start(db, people["officer"], now=T0)
    temporary = reset_password(db, "officer", actor=people["admin"], now=T0)
    assert len(temporary) >= 12
    assert sessions.resolve(db, session, now=T0) is None
    assert authenticate(db, "officer", PASSWORD, now=T0).user is None
    user = authenticate(db, "officer", temporary, now=T0).user
    assert user is not None and user.must_change_password
    with pytest.raises(ValidationError) as same:
        change_password(db, user.id, temporary, temporary, now=T0)
    assert list(same.value.errors) == ["new_password"]
    change_password(db, user.id, temporary, "a-brand-new-password", now=T0)
    assert not authenticate(db, "officer", "a-brand-new-password", now=T0).user.must_change_password
    with pytest.raises(PermissionDenied):
        reset_password(db, "chair", actor=people["officer"])


def test_users_reset_password_prints_a_temporary_one_or_reads_it(run, db, people) -> None:
    printed = run("users", "reset-password", "officer")
    assert printed.exit_code == 0, printed.output
    temporary = printed.output.strip()
    assert authenticate(db, "officer", temporary).user.must_change_password
    given = run("users", "reset-password", "chair", "--password-stdin", input="temporary-pass-1\n")
    assert given.exit_code == 0 and "temporary-pass-1" not in given.output
    assert authenticate(db, "chair", "temporary-pass-1").user is not None
    short = run("users", "reset-password", "chair", "--password-stdin", input="short\n")
    assert short.exit_code == 1 and "--password-stdin: must be at least 12" in short.output
    missing = run("users", "reset-password", "nobody")
    assert missing.exit_code == 1 and "no user named 'nobody'" in missing.output


def test_an_expired_token_is_refused(db, people) -> None:
    token = create_token(db, "officer", days=30, now=T0)
    assert user_for_token(db, token, now=T0 + timedelta(days=29, hours=23)) is not None
    assert user_for_token(db, token, now=T0 + timedelta(days=30)) is None


def test_a_revoked_token_is_refused_and_only_its_owner_or_an_admin_revokes(db, people) -> None:
    token = create_token(db, "officer")
    (row,) = list_tokens(db, "officer")
    with pytest.raises(NotFound):
        revoke_token(db, row["id"], actor=people["chair"])
    assert user_for_token(db, token) is not None
    revoke_token(db, row["id"], actor=people["officer"])
    assert user_for_token(db, token) is None
    assert list_tokens(db, "officer")[0]["state"] == "revoked"


def test_token_days_are_checked(db, people) -> None:
    for days in (0, 367):
        with pytest.raises(ValidationError) as refused:
            create_token(db, "officer", days=days)
        assert list(refused.value.errors) == ["days"]


def test_tokens_create_list_and_revoke_on_the_command_line(run, db, people) -> None:
    created = run("tokens", "create", "officer", "--days", "7", "--name", "nightly export")
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    listed = run("tokens", "list", "--user", "officer")
    assert listed.exit_code == 0 and "officer" in listed.output and "live" in listed.output
    assert "nightly export" in listed.output
    assert token not in listed.output
    (row,) = json.loads(run("tokens", "list", "--json").output)
    revoked = run("tokens", "revoke", str(row["id"]))
    assert revoked.exit_code == 0 and f"revoked token {row['id']}" in revoked.output
    assert user_for_token(db, token) is None
    assert "revoked" in run("tokens", "list").output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("tokens", "create", "officer", "--days", "0"), "--days"),
        (("tokens", "create", "officer", "--days", "many"), "--days"),
        (("tokens", "create", "nobody"), "no user named 'nobody'"),
        (("tokens", "list", "--user", "nobody"), "no user named 'nobody'"),
        (("tokens", "revoke", "999"), "no token with id 999"),
        (("tokens", "revoke", "x"), "ID"),
    ],
)
def test_token_command_errors_name_the_argument(run, people, args, named) -> None:
    result = run(*args)
    assert result.exit_code != 0 and named in result.output, result.output


def test_users_reset_two_factor_on_the_command_line(run, db, people) -> None:
    import pyotp

    from casework.services import twofactor

    secret = twofactor.begin_enrolment(db, people["province"].id)
    twofactor.confirm_enrolment(db, people["province"].id, pyotp.TOTP(secret).at(T0), now=T0)
    assert twofactor.is_enrolled(authenticate(db, "province", PASSWORD).user)
    result = run("users", "reset-two-factor", "province")
    assert result.exit_code == 0 and "two-step sign-in of province is off" in result.output
    assert not twofactor.is_enrolled(authenticate(db, "province", PASSWORD).user)
    assert twofactor.unused_recovery_codes(db, people["province"].id) == 0
    missing = run("users", "reset-two-factor", "nobody")
    assert missing.exit_code == 1 and "no user named 'nobody'" in missing.output
    with pytest.raises(PermissionDenied):
        twofactor.reset(db, "officer", actor=people["province"])
