"""Users, passwords (argon2), sign-in with lockout, and API tokens; disabling a user or
changing a password ends their web sessions (casework.services.sessions).

Sign-in failures are counted on the user's row, so the lockout holds for every process and
server sharing the database: from the `LOCKOUT_AFTER`th failure in a row the account is
locked for `LOCKOUT_FIRST`, doubling with each further failure up to `LOCKOUT_LONGEST`. A
locked account refuses even the right password; an administrator can unlock it. Every
sign-in, failure and refusal is audited (never the password, nor a name that is no user's)."""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy.orm import Session

from casework import audit, scope
from casework.clock import utcnow
from casework.db import Database
from casework.errors import NotFound, PermissionDenied, ValidationError
from casework.models import Agency, AgencyKind, ApiToken, Role, SessionEnd, UnitLevel
from casework.models import User as User  # the actor every service takes; web/ names it here
from casework.services import sessions
from casework.services.units import find_unit

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
MIN_PASSWORD_LENGTH = 12
#: The sign-in form takes no longer password.
MAX_PASSWORD_LENGTH = 200

#: Lockout: from this many failures in a row, locked for LOCKOUT_FIRST, doubling per failure.
LOCKOUT_AFTER = 5
LOCKOUT_FIRST = timedelta(minutes=1)
LOCKOUT_LONGEST = timedelta(hours=1)
#: API tokens expire after this many days unless told otherwise (at most TOKEN_MAX_DAYS).
TOKEN_DAYS = 90
TOKEN_MAX_DAYS = 366

#: Which level of unit each role belongs to.
ROLE_UNIT_LEVEL = {
    Role.OFFICER: UnitLevel.COMMUNE,
    Role.CHAIR: UnitLevel.COMMUNE,
    Role.PROVINCE: UnitLevel.PROVINCE,
}


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def create_user(
    db: Database,
    username: str,
    role: str,
    password: str,
    unit_code: str | None = None,
    agency_kind: str | None = None,
    full_name: str = "",
    email: str = "",
    locale: str = "vi",
    actor: User | None = None,
    now: datetime | None = None,
) -> User:
    """Create a user; every problem is reported against the argument that caused it."""
    now = now or utcnow()
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise ValidationError(
            {"username": "3–80 characters: lower-case letters, digits, '.', '_' or '-'"}
        )
    if role not in {r.value for r in Role}:
        raise ValidationError({"role": f"must be one of: {', '.join(r.value for r in Role)}"})
    _check_new_password(password, "password")
    if locale not in ("vi", "en"):
        raise ValidationError({"locale": "must be vi or en"})
    if agency_kind is not None and agency_kind not in {k.value for k in AgencyKind}:
        raise ValidationError(
            {"agency": f"must be one of: {', '.join(k.value for k in AgencyKind)}"}
        )
    with db.uow() as uow:
        session = uow.session
        if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
            raise ValidationError({"username": f"{username!r} is already taken"})
        unit = None
        if unit_code:
            unit = find_unit(session, unit_code)
            if unit is None:
                raise ValidationError({"unit": f"no administrative unit has code {unit_code!r}"})
        needed = ROLE_UNIT_LEVEL.get(Role(role))
        if needed and (unit is None or unit.level != needed):
            raise ValidationError({"unit": f"role {role} needs a {needed} unit code"})
        if role == Role.AGENCY and (unit is None or agency_kind is None):
            raise ValidationError({"agency": "role agency needs --unit and --agency KIND"})
        agency = None
        if agency_kind:
            if unit is None:
                raise ValidationError({"unit": "an agency belongs to a unit: give --unit"})
            agency = ensure_agency(session, unit.id, agency_kind)
        user = User(
            username=username,
            role=role,
            password_hash=hash_password(password),
            unit=unit,
            agency=agency,
            full_name=full_name,
            email=email,
            locale=locale,
            created_at=now,
        )
        session.add(user)
        session.flush()
        audit.record(
            session,
            uow.settings.audit_key,
            actor=actor,
            action="user.created",
            now=now,
            province_code=unit.province_code if unit else None,
            summary={"user_id": user.id, "role": role, "unit": unit_code, "agency": agency_kind},
        )
        uow.commit()
        return user


def _check_new_password(password: str, field: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError({field: f"must be at least {MIN_PASSWORD_LENGTH} characters"})
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError({field: f"must be at most {MAX_PASSWORD_LENGTH} characters"})


def set_active(
    db: Database,
    username: str,
    active: bool,
    actor: User | None = None,
    now: datetime | None = None,
) -> User:
    """Enable or disable a user (an administrator, or the command line: `actor` None).
    Disabling ends every session of the user at once (a browser signed in elsewhere is
    signed out at its next request); API tokens of a disabled user are refused too."""
    if actor is not None and not scope.may_administer(actor):
        raise PermissionDenied("only administrators enable or disable users")
    now = now or utcnow()
    with db.uow() as uow:
        user = uow.session.scalars(
            sa.select(User).where(User.username == username.strip().lower())
        ).first()
        if user is None:
            raise NotFound(f"no user named {username!r}")
        user.active = active
        ended = 0
        if not active:
            ended = sessions.end_all(uow.session, user.id, SessionEnd.USER_DISABLED, now)
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor,
            action="user.enabled" if active else "user.disabled",
            now=now,
            province_code=user.province_code,
            summary={"user_id": user.id, "sessions_ended": ended},
        )
        uow.commit()
        return user


def change_password(
    db: Database,
    user_id: int,
    current_password: str,
    new_password: str,
    keep_session: str | None = None,
    now: datetime | None = None,
) -> None:
    """A user changes their own password. Every other session of theirs ends; the one that
    made the change (`keep_session`, its token) stays signed in."""
    now = now or utcnow()
    _check_new_password(new_password, "new_password")
    with db.uow() as uow:
        user = uow.session.get(User, user_id)
        if user is None or not user.active:
            raise NotFound("no such user")
        if not check_password(user, current_password):
            raise ValidationError({"current_password": "is not your current password"})
        if new_password == current_password:
            raise ValidationError({"new_password": "must differ from the current password"})
        user.password_hash = hash_password(new_password)
        user.must_change_password = False
        ended = sessions.end_all(
            uow.session, user.id, SessionEnd.PASSWORD_CHANGED, now, keep_token=keep_session
        )
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=user,
            action="user.password_changed",
            now=now,
            province_code=user.province_code,
            summary={"user_id": user.id, "sessions_ended": ended},
        )
        uow.commit()


def ensure_agency(session: Session, unit_id: int, kind: str, name: str = "") -> Agency:
    agency = session.scalars(
        sa.select(Agency).where(Agency.unit_id == unit_id, Agency.kind == kind).limit(1)
    ).first()
    if agency is None:
        agency = Agency(unit_id=unit_id, kind=kind, name=name or kind)
        session.add(agency)
        session.flush()
    return agency


class SignInResult(enum.StrEnum):
    OK = "ok"  # the password was right (a second factor may still be asked)
    WRONG = "wrong"  # unknown user, disabled user or wrong password
    LOCKED = "locked"  # too many failures: refused whatever the password


@dataclass(frozen=True)
class SignIn:
    result: SignInResult
    user: User | None = None
    factor: str = "password"


def lockout_for(failures: int) -> timedelta | None:
    """How long an account stays locked after `failures` failures in a row."""
    if failures < LOCKOUT_AFTER:
        return None
    doublings = min(failures - LOCKOUT_AFTER, 20)
    return min(LOCKOUT_FIRST * 2**doublings, LOCKOUT_LONGEST)


def is_locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def _find(session: Session, username: str) -> User | None:
    return session.scalars(
        sa.select(User).where(User.username == username.strip().lower()[:80])
    ).first()


def authenticate(db: Database, username: str, password: str, now: datetime | None = None) -> SignIn:
    """Check a password. The answer says only right, wrong or locked; the page shows one
    message for all three (no oracle for which names exist). The failure is counted and
    audited in the database (so every process sees it); a success resets the count unless
    a second factor is still to come (`complete_sign_in` does it then)."""
    now = now or utcnow()
    with db.uow(readonly=True) as uow:
        user = _find(uow.session, username)
        if user is not None:
            _ = user.unit, user.agency
    if user is None or not user.active:
        _hasher.hash(password)  # same cost whether or not the user exists
        record_failure(db, user, "disabled" if user else "unknown_user", now)
        return SignIn(SignInResult.WRONG)
    if is_locked(user, now):
        _hasher.hash(password)
        audit_refusal(db, user, now)
        return SignIn(SignInResult.LOCKED)
    if not check_password(user, password):
        locked = record_failure(db, user, "password", now)
        return SignIn(SignInResult.LOCKED if locked else SignInResult.WRONG)
    return SignIn(SignInResult.OK, user)


def record_failure(db: Database, user: User | None, reason: str, now: datetime) -> bool:
    """Count a failed sign-in (password or second factor) and audit it; returns whether the
    account is now locked. The count is incremented in the database, not read and written
    back, so failures in other processes at the same moment all count."""
    with db.uow() as uow:
        summary: dict[str, Any] = {"reason": reason}
        locked = False
        if user is not None:
            failures = uow.session.execute(
                sa.update(User)
                .where(User.id == user.id)
                .values(failed_logins=User.failed_logins + 1)
                .returning(User.failed_logins)
                .execution_options(synchronize_session=False)
            ).scalar_one()
            summary.update(user_id=user.id, failures=failures)
            lock = lockout_for(failures)
            if lock is not None:
                locked = True
                until = now + lock
                uow.session.execute(
                    sa.update(User)
                    .where(User.id == user.id)
                    .values(locked_until=until)
                    .execution_options(synchronize_session=False)
                )
                summary["locked_until"] = until.isoformat(timespec="seconds")
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=user,
            action="user.login_failed",
            now=now,
            province_code=user.province_code if user else None,
            summary=summary,
        )
        uow.commit()
    return locked


def audit_refusal(db: Database, user: User, now: datetime) -> None:
    """A sign-in step refused unchecked because the account is locked."""
    with db.uow() as uow:
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=user,
            action="user.login_refused",
            now=now,
            province_code=user.province_code,
            summary={"user_id": user.id, "reason": "locked"},
        )
        uow.commit()


def complete_sign_in(db: Database, user: User, factor: str, now: datetime | None = None) -> str:
    """The user has proven who they are (`factor`: password, totp or recovery_code): reset
    the failure count, audit the sign-in and start a new web session — a new session id,
    whatever the browser held before. Returns the session's token."""
    now = now or utcnow()
    with db.uow() as uow:
        uow.session.execute(
            sa.update(User)
            .where(User.id == user.id)
            .values(failed_logins=0, locked_until=None)
            .execution_options(synchronize_session=False)
        )
        token = sessions.open_session(uow.session, user.id, now)
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=user,
            action="user.login",
            now=now,
            province_code=user.province_code,
            summary={"user_id": user.id, "factor": factor},
        )
        uow.commit()
    return token


def unlock(
    db: Database, username: str, actor: User | None = None, now: datetime | None = None
) -> User:
    """An administrator (or the command line) lifts a lockout and clears the failure count."""
    if actor is not None and not scope.may_administer(actor):
        raise PermissionDenied("only administrators unlock users")
    now = now or utcnow()
    with db.uow() as uow:
        user = _find(uow.session, username)
        if user is None:
            raise NotFound(f"no user named {username!r}")
        was_locked = is_locked(user, now)
        user.failed_logins = 0
        user.locked_until = None
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor,
            action="user.unlocked",
            now=now,
            province_code=user.province_code,
            summary={"user_id": user.id, "was_locked": was_locked},
        )
        uow.commit()
        return user


def reset_password(
    db: Database,
    username: str,
    password: str | None = None,
    actor: User | None = None,
    now: datetime | None = None,
) -> str:
    """An administrator (or the command line) sets a temporary password — the one given, or
    a random one — that the user must change at their next sign-in before anything else.
    Every session of the user ends and a lockout is lifted. Returns the temporary password."""
    if actor is not None and not scope.may_administer(actor):
        raise PermissionDenied("only administrators reset passwords")
    now = now or utcnow()
    if password is None:
        password = secrets.token_urlsafe(12)  # 16 characters
    _check_new_password(password, "password")
    with db.uow() as uow:
        user = _find(uow.session, username)
        if user is None:
            raise NotFound(f"no user named {username!r}")
        user.password_hash = hash_password(password)
        user.must_change_password = True
        user.failed_logins = 0
        user.locked_until = None
        ended = sessions.end_all(uow.session, user.id, SessionEnd.PASSWORD_CHANGED, now)
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor,
            action="user.password_reset",
            now=now,
            province_code=user.province_code,
            summary={"user_id": user.id, "sessions_ended": ended},
        )
        uow.commit()
    return password


def get_user(db: Database, user_id: int) -> User | None:
    with db.uow(readonly=True) as uow:
        return uow.session.get(User, user_id)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    db: Database,
    username: str,
    days: int = TOKEN_DAYS,
    actor: User | None = None,
    now: datetime | None = None,
) -> str:
    """A new bearer token valid for `days` days; only its digest is stored, the token is
    returned once."""
    now = now or utcnow()
    if not 1 <= days <= TOKEN_MAX_DAYS:
        raise ValidationError({"days": f"must be between 1 and {TOKEN_MAX_DAYS}"})
    with db.uow() as uow:
        user = _find(uow.session, username)
        if user is None:
            raise NotFound(f"no user named {username!r}")
        token = "cw_" + secrets.token_urlsafe(32)
        row = ApiToken(
            user_id=user.id,
            token_hash=_token_digest(token),
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        uow.session.add(row)
        uow.session.flush()
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor or user,
            action="token.created",
            now=now,
            province_code=user.province_code,
            summary={"user_id": user.id, "token_id": row.id, "days": days},
        )
        uow.commit()
        return token


def list_tokens(
    db: Database, username: str | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Tokens (never their value), newest first, with their state: live, expired or revoked."""
    now = now or utcnow()
    with db.uow(readonly=True) as uow:
        query = sa.select(ApiToken, User.username).join(User).order_by(ApiToken.id.desc())
        if username is not None:
            user = _find(uow.session, username)
            if user is None:
                raise NotFound(f"no user named {username!r}")
            query = query.where(ApiToken.user_id == user.id)
        return [
            {
                "id": token.id,
                "username": name,
                "created_at": token.created_at,
                "expires_at": token.expires_at,
                "revoked_at": token.revoked_at,
                "state": "revoked"
                if token.revoked_at is not None
                else "expired"
                if token.expires_at <= now
                else "live",
            }
            for token, name in uow.session.execute(query)
        ]


def revoke_token(
    db: Database, token_id: int, actor: User | None = None, now: datetime | None = None
) -> None:
    """Revoke a token (by its id, as `list_tokens` shows it): the API refuses it at once.
    Its owner may revoke it, and administrators; the command line (`actor` None) may."""
    now = now or utcnow()
    with db.uow() as uow:
        row = uow.session.get(ApiToken, token_id)
        if row is None or (
            actor is not None and row.user_id != actor.id and not scope.may_administer(actor)
        ):
            raise NotFound(f"no token with id {token_id}")
        if row.revoked_at is None:
            row.revoked_at = now
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor,
            action="token.revoked",
            now=now,
            province_code=row.user.province_code,
            summary={"user_id": row.user_id, "token_id": row.id},
        )
        uow.commit()


def user_for_token(db: Database, token: str, now: datetime | None = None) -> User | None:
    """The active user a live token (known, not revoked, not expired) belongs to."""
    now = now or utcnow()
    with db.uow(readonly=True) as uow:
        row = uow.session.scalars(
            sa.select(ApiToken).where(
                ApiToken.token_hash == _token_digest(token),
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > now,
            )
        ).first()
        if row is None or not row.user.active:
            return None
        user = row.user
        _ = user.unit, user.agency  # loaded before the session closes
        return user
