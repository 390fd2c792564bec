"""Two-factor sign-in: TOTP codes (RFC 6238, an authenticator app) and one-time recovery codes.

Enrolment keeps a new secret on the user's row, unconfirmed, until the user types a code the
app made from it; only then are two factors on, and ten recovery codes are made and shown
once (stored as salted SHA-256: they are random, so a fast hash suffices). A TOTP code is
taken once (the last accepted time step is kept); a recovery code works once. Wrong codes
count towards the same lockout as wrong passwords (casework/services/users.py). Who must use
two factors is decided in casework/scope.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import qrcode
import qrcode.image.svg
import sqlalchemy as sa

from casework import scope
from casework.clock import utcnow
from casework.db import Database, UnitOfWork
from casework.errors import NotFound, PermissionDenied, ValidationError
from casework.models import RecoveryCode, User
from casework.services import users

ISSUER = "Casework"
RECOVERY_CODES = 10
#: A TOTP step is 30 s; one step either side is accepted for clocks that drift.
VALID_WINDOW = 1
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def must_use(user: User) -> bool:
    return scope.must_use_two_factors(user)


def is_enrolled(user: User) -> bool:
    return user.totp_confirmed_at is not None


def begin_enrolment(db: Database, user_id: int) -> str:
    """The secret to enrol (a new one unless an unconfirmed one is waiting)."""
    with db.uow() as uow:
        user = uow.session.get(User, user_id)
        if user is None or not user.active:
            raise NotFound("no such user")
        if user.totp_confirmed_at is not None:
            raise ValidationError({"code": "two-factor sign-in is already on"})
        if not user.totp_secret:
            user.totp_secret = pyotp.random_base32()
        secret = user.totp_secret
        uow.commit()
    return secret


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg_data_uri(text: str) -> str:
    """The QR code of `text` as an SVG data URI for an <img> (drawn here: nothing leaves the
    server; the page's CSP allows data: images)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = image.to_string()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _normal(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _totp_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to, if it is valid now and newer than `last_step`."""
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def confirm_enrolment(
    db: Database, user_id: int, code: str, now: datetime | None = None
) -> list[str]:
    """Turn two factors on with a code from the app; returns the recovery codes (shown once)."""
    now = now or utcnow()
    with db.uow() as uow:
        user = uow.session.get(User, user_id)
        if user is None or not user.active or not user.totp_secret:
            raise NotFound("no enrolment is waiting")
        if user.totp_confirmed_at is not None:
            raise ValidationError({"code": "two-factor sign-in is already on"})
        step = _totp_step(user.totp_secret, _normal(code), now, None)
        if step is None:
            raise ValidationError({"code": "is not the code the app shows now"})
        user.totp_confirmed_at = now
        user.totp_last_step = step
        codes = _new_recovery_codes(uow.session, user.id, now)
        users.audit_account(uow, user, "user.two_factor_enabled", user, now)
        uow.commit()
    return codes


def _hash_code(code: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    return salt + "$" + hashlib.sha256((salt + _normal(code)).encode()).hexdigest()


def _matches(code: str, stored: str) -> bool:
    salt, _, _digest = stored.partition("$")
    return hmac.compare_digest(_hash_code(code, salt), stored)


def _new_recovery_codes(session: sa.orm.Session, user_id: int, now: datetime) -> list[str]:
    session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
        code = f"{raw[:5]}-{raw[5:]}"
        codes.append(code)
        session.add(RecoveryCode(user_id=user_id, code_hash=_hash_code(code), created_at=now))
    return codes


def new_recovery_codes(db: Database, user_id: int, now: datetime | None = None) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    now = now or utcnow()
    with db.uow() as uow:
        user = uow.session.get(User, user_id)
        if user is None or user.totp_confirmed_at is None:
            raise NotFound("two-factor sign-in is off")
        codes = _new_recovery_codes(uow.session, user.id, now)
        users.audit_account(uow, user, "user.recovery_codes_renewed", user, now)
        uow.commit()
    return codes


def unused_recovery_codes(db: Database, user_id: int) -> int:
    with db.uow(readonly=True) as uow:
        return int(
            uow.session.scalar(
                sa.select(sa.func.count())
                .select_from(RecoveryCode)
                .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
            )
            or 0
        )


def verify_second_factor(
    db: Database, user_id: int, code: str, now: datetime | None = None
) -> users.SignIn:
    """The second step of signing in: a TOTP code or a recovery code. A wrong code counts
    as a failed sign-in (lockout); a locked account is refused whatever the code."""
    now = now or utcnow()
    user = users.get_user(db, user_id)
    if user is None or not user.active or user.totp_confirmed_at is None or not user.totp_secret:
        return users.SignIn(users.SignInResult.WRONG)
    if users.is_locked(user, now):
        users.audit_refusal(db, user, now)
        return users.SignIn(users.SignInResult.LOCKED)
    typed = _normal(code)
    with db.uow() as uow:
        fresh = uow.session.get(User, user_id)
        assert fresh is not None and fresh.totp_secret
        factor = None
        step = _totp_step(fresh.totp_secret, typed, now, fresh.totp_last_step)
        if step is not None:
            # Compare-and-set: two requests with the same code, only one wins.
            taken = uow.session.execute(
                sa.update(User)
                .where(
                    User.id == user_id,
                    sa.or_(User.totp_last_step.is_(None), User.totp_last_step < step),
                )
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                factor = "totp"
        elif len(typed) == 10:
            for row in uow.session.scalars(
                sa.select(RecoveryCode).where(
                    RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
                )
            ):
                if _matches(typed, row.code_hash):
                    used = uow.session.execute(
                        sa.update(RecoveryCode)
                        .where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
                        .values(used_at=now)
                        .execution_options(synchronize_session=False)
                    )
                    if used.rowcount == 1:  # type: ignore[attr-defined]
                        factor = "recovery_code"
                    break
        if factor is not None:
            uow.commit()
    if factor is None:
        locked = users.record_failure(db, user, "second_factor", now)
        return users.SignIn(users.SignInResult.LOCKED if locked else users.SignInResult.WRONG)
    return users.SignIn(users.SignInResult.OK, user, factor)


def disable_own(
    db: Database, user_id: int, current_password: str, now: datetime | None = None
) -> None:
    """A user turns their own two factors off (their password again); not for those who
    must use them."""
    now = now or utcnow()
    with db.uow() as uow:
        user = uow.session.get(User, user_id)
        if user is None or not user.active:
            raise NotFound("no such user")
        if must_use(user):
            raise PermissionDenied("your role must sign in with two factors")
        if not users.check_password(user, current_password):
            raise ValidationError({"current_password": "is not your current password"})
        _turn_off(uow, user, user, now)
        uow.commit()


def reset(
    db: Database, username: str, actor: User | None = None, now: datetime | None = None
) -> User:
    """An administrator (or the command line: `actor` None) turns off the two factors of a
    user who lost the app and the codes; if the role must use them, the user enrols again
    at the next sign-in."""
    now = now or utcnow()
    with db.uow() as uow:
        user = users.administered_user(
            uow.session, username, actor, "reset another user's two factors"
        )
        _turn_off(uow, user, actor, now)
        uow.commit()
        return user


def _turn_off(uow: UnitOfWork, user: User, actor: User | None, now: datetime) -> None:
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    uow.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    users.audit_account(uow, actor, "user.two_factor_disabled", user, now)
