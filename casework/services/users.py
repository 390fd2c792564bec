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
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from casework import audit, scope
from casework.clock import LOCAL_TZ, utcnow
from casework.db import Database, UnitOfWork
from casework.errors import Conflict, NotFound, PermissionDenied, ValidationError
from casework.models import Agency, AgencyKind, ApiToken, Role, SessionEnd, UnitLevel
from casework.models import User as User  # the actor every service takes; web/ names it here
from casework.services import sessions
from casework.services.units import find_unit
from workflows.spec import FieldSpec, choice, integer, iso_date, text

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
MAX_USERNAME_LENGTH = 80
MAX_NAME_LENGTH = 200
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
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

ROLES = tuple(role.value for role in Role)
AGENCY_KINDS = tuple(kind.value for kind in AgencyKind)

#: The administrators' forms, as data (drawn by web/forms.py, checked by the same clean()).
#: `unit` is a unit's official code, chosen on the page by name.
_PROFILE_FIELDS = (
    FieldSpec("full_name", text(MAX_NAME_LENGTH), required=False),
    FieldSpec("email", text(MAX_NAME_LENGTH), required=False, label="email"),
    FieldSpec("role", choice(*ROLES, labels="role"), label="role"),
    FieldSpec("unit", text(20), required=False, label="unit"),
    FieldSpec("agency", choice(*AGENCY_KINDS, labels="agency"), required=False, label="agency"),
)
NEW_USER_FIELDS = (
    FieldSpec("username", text(MAX_USERNAME_LENGTH), label="username"),
    *_PROFILE_FIELDS,
    FieldSpec(
        "password",
        text(MAX_PASSWORD_LENGTH),
        required=False,
        label="initial_password",
        help="initial_password",
    ),
)
EDIT_USER_FIELDS = (*_PROFILE_FIELDS, FieldSpec("version", integer(1), label="version"))
NEW_TOKEN_FIELDS = (
    FieldSpec("name", text(80), label="token_name"),
    FieldSpec("expires_on", iso_date(max_years_ahead=2), label="expires_on"),
)


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
    must_change_password: bool = False,
) -> User:
    """Create a user; every problem is reported against the argument that caused it.
    An administrator (`actor`; None is the command line) creates users of the provinces it
    administers only; `must_change_password`: the password given is a temporary one."""
    if actor is not None and not scope.may_administer(actor):
        raise PermissionDenied("only administrators create users")
    now = now or utcnow()
    username = username.strip().lower()
    if len(username) > MAX_USERNAME_LENGTH:
        raise ValidationError({"username": f"must be at most {MAX_USERNAME_LENGTH} characters"})
    if not USERNAME_RE.match(username):
        raise ValidationError(
            {"username": "3–80 characters: lower-case letters, digits, '.', '_' or '-'"}
        )
    full_name, email = _check_profile(full_name, email)
    _check_role(role, agency_kind)
    _check_new_password(password, "password")
    if locale not in ("vi", "en"):
        raise ValidationError({"locale": "must be vi or en"})
    with db.uow() as uow:
        session = uow.session
        if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
            raise ValidationError({"username": f"{username!r} is already taken"})
        unit, agency = _placement(session, actor, role, unit_code, agency_kind)
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
            must_change_password=must_change_password,
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
            summary={
                "user_id": user.id,
                "username": username,
                "role": role,
                "unit": unit.code if unit else None,
                "agency": agency_kind,
                "must_change_password": must_change_password,
            },
        )
        uow.commit()
        return user


def temporary_password() -> str:
    """A random password to hand over once; its owner must change it at the first sign-in."""
    return secrets.token_urlsafe(12)  # 16 characters


def _check_profile(full_name: str, email: str) -> tuple[str, str]:
    full_name, email = full_name.strip(), email.strip()
    if len(full_name) > MAX_NAME_LENGTH:
        raise ValidationError({"full_name": f"must be at most {MAX_NAME_LENGTH} characters"})
    if len(email) > MAX_NAME_LENGTH:
        raise ValidationError({"email": f"must be at most {MAX_NAME_LENGTH} characters"})
    if email and not EMAIL_RE.match(email):
        raise ValidationError({"email": "is not an e-mail address"})
    return full_name, email


def _check_role(role: str, agency_kind: str | None) -> None:
    if role not in ROLES:
        raise ValidationError({"role": f"must be one of: {', '.join(ROLES)}"})
    if agency_kind is not None and agency_kind not in AGENCY_KINDS:
        raise ValidationError({"agency": f"must be one of: {', '.join(AGENCY_KINDS)}"})


def _placement(
    session: Session,
    actor: User | None,
    role: str,
    unit_code: str | None,
    agency_kind: str | None,
) -> tuple[Any, Agency | None]:
    """The unit and agency of an account with `role`, checked: the unit exists and is of
    the role's level, an agency user has an agency, and the actor may place it there."""
    unit = None
    if unit_code:
        unit = find_unit(session, unit_code.strip()[:20])
        if unit is None:
            raise ValidationError({"unit": f"no administrative unit has code {unit_code!r}"})
        if unit.valid_to is not None and unit.valid_to < utcnow().astimezone(LOCAL_TZ).date():
            raise ValidationError(
                {"unit": f"{unit.code!r} was dissolved on {unit.valid_to.isoformat()}"}
            )
    needed = ROLE_UNIT_LEVEL.get(Role(role))
    if needed and (unit is None or unit.level != needed):
        raise ValidationError({"unit": f"role {role} needs a {needed} unit code"})
    if role == Role.AGENCY and agency_kind is None:
        raise ValidationError({"agency": "role agency needs an agency"})
    if role == Role.AGENCY and unit is None:
        raise ValidationError({"unit": "role agency needs a unit"})
    refused = scope.refuses_grant(actor, role, unit.province_code if unit else None)
    if refused == "role":
        raise ValidationError({"role": "you may not create a national administrator"})
    if refused:
        raise ValidationError({"unit": "is outside the province you administer"})
    agency = None
    if agency_kind and role == Role.AGENCY:
        assert unit is not None
        agency = ensure_agency(session, unit.id, agency_kind)
    return unit, agency


def audit_account(
    uow: UnitOfWork, actor: User | None, action: str, user: User, now: datetime, **details: Any
) -> None:
    """An event about one account, on the chain of the account's province: whose account
    (`user_id`) and what else `details` say — never a password, a code or a token."""
    audit.record(
        uow.session,
        uow.settings.audit_key,
        actor=actor,
        action=action,
        now=now,
        province_code=user.province_code,
        summary={"user_id": user.id, **details},
    )


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
    now = now or utcnow()
    with db.uow() as uow:
        user = administered_user(uow.session, username, actor, "enable or disable users")
        if not active:
            if actor is not None and user.id == actor.id:
                raise PermissionDenied("you cannot disable your own account")
            _keep_a_national_administrator(uow.session, user)
        user.active = active
        ended = 0
        if not active:
            ended = sessions.end_all(uow.session, user.id, SessionEnd.USER_DISABLED, now)
        action = "user.enabled" if active else "user.disabled"
        audit_account(uow, actor, action, user, now, sessions_ended=ended)
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
        audit_account(uow, user, "user.password_changed", user, now, sessions_ended=ended)
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
    """The user of this name (case and surrounding spaces ignored). A name longer than any
    user's is refused, not cut to length (a cut name could be somebody else's)."""
    name = username.strip().lower()
    if len(name) > MAX_USERNAME_LENGTH:
        raise ValidationError({"username": f"must be at most {MAX_USERNAME_LENGTH} characters"})
    return session.scalars(sa.select(User).where(User.username == name)).first()


def administered_user(session: Session, username: str, actor: User | None, what: str) -> User:
    """The user an administrator (`actor`; None is the command line) acts on. One that does
    not exist, or that this administrator does not manage (another province's), is not
    found; an actor who is no administrator is refused (`what` it may not do)."""
    if actor is not None and not scope.may_administer(actor):
        raise PermissionDenied(f"only administrators {what}")
    user = _find(session, username)
    if user is None or (actor is not None and not scope.administers(actor, user.province_code)):
        raise NotFound(f"no user named {username.strip()[:MAX_USERNAME_LENGTH]!r}")
    return user


def _keep_a_national_administrator(session: Session, user: User) -> None:
    """Refuse to disable, demote or place at a unit the last active national administrator:
    nobody could then manage the system from the browser."""
    if scope.is_national_administrator(user):
        _refuse_the_last_national_administrator(session, user)


def _refuse_the_last_national_administrator(session: Session, user: User) -> None:
    others = session.scalar(
        sa.select(sa.func.count())
        .select_from(User)
        .where(scope.national_administrators(), User.id != user.id)
    )
    if not others:
        raise PermissionDenied(
            "this is the last active national administrator: create another one first"
        )


def authenticate(db: Database, username: str, password: str, now: datetime | None = None) -> SignIn:
    """Check a password. The answer says only right, wrong or locked; the page shows one
    message for all three (no oracle for which names exist). The failure is counted and
    audited in the database (so every process sees it); a success resets the count unless
    a second factor is still to come (`complete_sign_in` does it then)."""
    now = now or utcnow()
    with db.uow(readonly=True) as uow:
        try:
            user = _find(uow.session, username)
        except ValidationError:
            user = None  # no user has so long a name: a failure like any unknown name
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
        audit_account(uow, user, "user.login_refused", user, now, reason="locked")
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
        audit_account(uow, user, "user.login", user, now, factor=factor)
        uow.commit()
    return token


def unlock(
    db: Database, username: str, actor: User | None = None, now: datetime | None = None
) -> User:
    """An administrator (or the command line) lifts a lockout and clears the failure count."""
    now = now or utcnow()
    with db.uow() as uow:
        user = administered_user(uow.session, username, actor, "unlock users")
        was_locked = is_locked(user, now)
        user.failed_logins = 0
        user.locked_until = None
        audit_account(uow, actor, "user.unlocked", user, now, was_locked=was_locked)
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
    now = now or utcnow()
    if password is None:
        password = temporary_password()
    _check_new_password(password, "password")
    with db.uow() as uow:
        user = administered_user(uow.session, username, actor, "reset passwords")
        user.password_hash = hash_password(password)
        user.must_change_password = True
        user.failed_logins = 0
        user.locked_until = None
        ended = sessions.end_all(uow.session, user.id, SessionEnd.PASSWORD_CHANGED, now)
        audit_account(uow, actor, "user.password_reset", user, now, sessions_ended=ended)
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
    name: str = "",
    expires_on: date | None = None,
) -> str:
    """A new bearer token valid for `days` days — or through the day `expires_on` (Vietnam
    time) — named `name`; only its digest is stored, the token is returned once. The user
    (`actor` None or the user) or an administrator of the user's province creates it."""
    now = now or utcnow()
    name = name.strip()
    if len(name) > 80:
        raise ValidationError({"name": "must be at most 80 characters"})
    if expires_on is not None:
        today = now.astimezone(LOCAL_TZ).date()
        if expires_on < today:
            raise ValidationError({"expires_on": "is in the past"})
        if expires_on > today + timedelta(days=TOKEN_MAX_DAYS):
            raise ValidationError(
                {"expires_on": f"must be within {TOKEN_MAX_DAYS} days from today"}
            )
        # Through the whole of that day in Vietnam.
        expires_at = datetime.combine(expires_on, time(23, 59, 59), LOCAL_TZ)
    else:
        if not 1 <= days <= TOKEN_MAX_DAYS:
            raise ValidationError({"days": f"must be between 1 and {TOKEN_MAX_DAYS}"})
        expires_at = now + timedelta(days=days)
    with db.uow() as uow:
        user = _find(uow.session, username)
        if user is None or (
            actor is not None
            and actor.id != user.id
            and not scope.administers(actor, user.province_code)
        ):
            raise NotFound(f"no user named {username.strip()!r}")
        token = "cw_" + secrets.token_urlsafe(32)
        row = ApiToken(
            user_id=user.id,
            token_hash=_token_digest(token),
            name=name,
            created_at=now,
            expires_at=expires_at,
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
            summary={
                "user_id": user.id,
                "token_id": row.id,
                "expires_at": expires_at.isoformat(timespec="seconds"),
            },
        )
        uow.commit()
        return token


def _token_state(token: ApiToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if token.expires_at <= now else "live"


def list_tokens(
    db: Database,
    username: str | None = None,
    now: datetime | None = None,
    actor: User | None = None,
) -> list[dict[str, Any]]:
    """Tokens (never their value), newest first, with their state: live, expired or revoked.
    With an `actor`, only those of one user the actor administers."""
    now = now or utcnow()
    with db.uow(readonly=True) as uow:
        query = sa.select(ApiToken, User.username).join(User).order_by(ApiToken.id.desc())
        if username is not None:
            user = administered_user(uow.session, username, actor, "see other users' tokens")
            query = query.where(ApiToken.user_id == user.id)
        elif actor is not None:
            raise PermissionDenied("name the user whose tokens to list")
        return [
            {
                "id": token.id,
                "username": owner,
                "name": token.name,
                "created_at": token.created_at,
                "expires_at": token.expires_at,
                "revoked_at": token.revoked_at,
                "last_used_at": token.last_used_at,
                "state": _token_state(token, now),
            }
            for token, owner in uow.session.execute(query)
        ]


def revoke_token(
    db: Database,
    token_id: int,
    actor: User | None = None,
    now: datetime | None = None,
    username: str | None = None,
) -> None:
    """Revoke a token (by its id, as `list_tokens` shows it): the API refuses it at once.
    Its owner may revoke it, and the administrators of the owner's province; the command
    line (`actor` None) may. With `username`, the token must be that user's."""
    now = now or utcnow()
    with db.uow() as uow:
        row = uow.session.get(ApiToken, token_id)
        if row is None or (
            actor is not None
            and row.user_id != actor.id
            and not scope.administers(actor, row.user.province_code)
        ):
            raise NotFound(f"no token with id {token_id}")
        if username is not None and row.user.username != username.strip().lower():
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


#: How stale a token's `last_used_at` may get: the API writes it at most this often.
LAST_USED_PRECISION = timedelta(minutes=1)


def user_for_token(db: Database, token: str, now: datetime | None = None) -> User | None:
    """The user a live token (known, not revoked, not expired) belongs to, if that user may
    work now: active, and not owing a password change (a temporary password an
    administrator set opens nothing until changed — in the browser, not through the API)."""
    now = now or utcnow()
    with db.uow(readonly=True) as uow:
        row = uow.session.scalars(
            sa.select(ApiToken).where(
                ApiToken.token_hash == _token_digest(token),
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > now,
            )
        ).first()
        if row is None or not row.user.active or row.user.must_change_password:
            return None
        user = row.user
        _ = user.unit, user.agency  # loaded before the session closes
        token_id, last_used = row.id, row.last_used_at
    if last_used is None or last_used <= now - LAST_USED_PRECISION:
        with db.uow() as uow:
            uow.session.execute(
                sa.update(ApiToken)
                .where(ApiToken.id == token_id)
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
            uow.commit()
    return user


# --- administrators' changes to an account ----------------------------------------------------


def update_user(
    db: Database,
    username: str,
    version: int,
    role: str,
    unit_code: str | None = None,
    agency_kind: str | None = None,
    full_name: str = "",
    email: str = "",
    actor: User | None = None,
    now: datetime | None = None,
) -> User:
    """An administrator changes a user's role, unit, agency, name or e-mail. `version` is
    the user's version the form was drawn from: if somebody changed the user since, nothing
    is written (Conflict). An administrator does not change its own role or unit (another
    one does), and the last national administrator stays one."""
    now = now or utcnow()
    full_name, email = _check_profile(full_name, email)
    _check_role(role, agency_kind)
    with db.uow() as uow:
        session = uow.session
        user = administered_user(session, username, actor, "change users")
        if user.version != version:
            raise Conflict(
                "somebody else changed this user since you opened the form", user.version
            )
        unit, agency = _placement(session, actor, role, unit_code, agency_kind)
        if (
            agency is not None
            and user.agency is not None
            and (agency.unit_id, agency.kind) == (user.agency.unit_id, user.agency.kind)
        ):
            agency = user.agency  # the same kind at the same unit: keep the user's own agency
        before = {
            "role": user.role,
            "unit": user.unit.code if user.unit else None,
            "agency": user.agency.kind if user.agency else None,
        }
        after = {
            "role": role,
            "unit": unit.code if unit else None,
            "agency": agency.kind if agency else None,
        }
        moved = (before["role"], before["unit"]) != (after["role"], after["unit"])
        if moved and actor is not None and user.id == actor.id:
            raise PermissionDenied("you cannot change your own role or unit")
        was_national = scope.is_national_administrator(user)
        province_before = user.province_code
        changed = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
        for key, old, new in (
            ("full_name", user.full_name, full_name),
            ("email", user.email, email),
        ):
            if old != new:
                changed[key] = ["…", "…"]  # that it changed; the values are in the row
        if not changed:
            return user
        user.role = role
        user.unit = unit
        user.agency = agency
        user.full_name = full_name
        user.email = email
        try:
            session.flush()
        except StaleDataError:
            raise Conflict("somebody else changed this user since you opened the form") from None
        if was_national and not scope.is_national_administrator(user):
            _refuse_the_last_national_administrator(session, user)  # rolls the change back
        audit.record(
            session,
            uow.settings.audit_key,
            actor=actor,
            action="user.updated",
            now=now,
            province_code=province_before or user.province_code,
            summary={"user_id": user.id, "changed": changed},
        )
        uow.commit()
        return user
