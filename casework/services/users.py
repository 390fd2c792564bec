"""Users, passwords (argon2) and API tokens; disabling a user or changing a password ends
their web sessions (casework.services.sessions)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

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
MIN_PASSWORD_LENGTH = 10
#: The sign-in form takes no longer password.
MAX_PASSWORD_LENGTH = 200

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
        user.password_hash = hash_password(new_password)
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


def authenticate(db: Database, username: str, password: str) -> User | None:
    with db.uow(readonly=True) as uow:
        user = uow.session.scalars(
            sa.select(User).where(User.username == username.strip().lower())
        ).first()
        if user is None or not user.active:
            _hasher.hash(password)  # same cost whether or not the user exists
            return None
        return user if check_password(user, password) else None


def get_user(db: Database, user_id: int) -> User | None:
    with db.uow(readonly=True) as uow:
        return uow.session.get(User, user_id)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, username: str, now: datetime | None = None) -> str:
    """A new bearer token; only its digest is stored, the token is returned once."""
    now = now or utcnow()
    with db.uow() as uow:
        user = uow.session.scalars(sa.select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"no user named {username!r}")
        token = "cw_" + secrets.token_urlsafe(32)
        uow.session.add(ApiToken(user_id=user.id, token_hash=_token_digest(token), created_at=now))
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=user,
            action="token.created",
            now=now,
            province_code=user.province_code,
            summary={"user_id": user.id},
        )
        uow.commit()
        return token


def user_for_token(db: Database, token: str) -> User | None:
    with db.uow(readonly=True) as uow:
        row = uow.session.scalars(
            sa.select(ApiToken).where(
                ApiToken.token_hash == _token_digest(token), ApiToken.revoked_at.is_(None)
            )
        ).first()
        if row is None or not row.user.active:
            return None
        user = row.user
        _ = user.unit, user.agency  # loaded before the session closes
        return user
