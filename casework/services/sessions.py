"""Sessions of the web pages, held on the server.

The browser keeps a random token (inside Flask's signed cookie); the database keeps only its
SHA-256. A request is signed in while its token names a live session of an active user, so
ending the row — sign-out, an idle or absolute timeout, the user disabled, the password
changed — ends the session everywhere, whatever copies of the cookie exist.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from casework.clock import utcnow
from casework.db import Database
from casework.models import SessionEnd, User, UserSession

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=8)
#: `last_seen_at` is written at most this often per session (not on every request), so the
#: idle timeout is exact to within this much.
TOUCH_EVERY = timedelta(minutes=1)
#: Longer than any token `start` hands out; anything longer is not looked up.
MAX_TOKEN_LENGTH = 100


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start(db: Database, user: User, now: datetime | None = None) -> str:
    """A new session for `user`; returns its token (shown to nobody but the browser).
    Signing in goes through `users.complete_sign_in`, which also audits it."""
    with db.uow() as uow:
        token = open_session(uow.session, user.id, now or utcnow())
        uow.commit()
    return token


def open_session(session: Session, user_id: int, now: datetime) -> str:
    """In the caller's transaction: a new session row; returns its token."""
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(token_hash=_digest(token), user_id=user_id, created_at=now, last_seen_at=now)
    )
    return token


def resolve(
    db: Database,
    token: str,
    now: datetime | None = None,
    idle: timedelta = IDLE_TIMEOUT,
    absolute: timedelta = ABSOLUTE_TIMEOUT,
) -> User | None:
    """The active user whose live session `token` names, or None. A session found past its
    idle or absolute timeout is ended here."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = now or utcnow()
    with db.uow(readonly=True) as uow:
        row = uow.session.scalars(
            sa.select(UserSession)
            .options(joinedload(UserSession.user))
            .where(UserSession.token_hash == _digest(token), UserSession.ended_at.is_(None))
        ).first()
        if row is None:
            return None
        user = row.user
        _ = user.unit, user.agency  # loaded before the session closes
        ending: SessionEnd | None = None
        if not user.active:
            ending = SessionEnd.USER_DISABLED
        elif now - row.created_at >= absolute:
            ending = SessionEnd.EXPIRED
        elif now - row.last_seen_at >= idle:
            ending = SessionEnd.IDLE
        touch = now - row.last_seen_at >= TOUCH_EVERY
        session_id = row.id
    if ending is not None:
        with db.uow() as uow:
            _end(uow.session, UserSession.id == session_id, ending, now)
            uow.commit()
        return None
    if touch:
        with db.uow() as uow:
            uow.session.execute(
                sa.update(UserSession)
                .where(UserSession.id == session_id, UserSession.ended_at.is_(None))
                .values(last_seen_at=now)
            )
            uow.commit()
    return user


def end(
    db: Database, token: str, reason: SessionEnd = SessionEnd.LOGOUT, now: datetime | None = None
) -> None:
    """End the session `token` names (signing out). Ending an ended session does nothing."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return
    with db.uow() as uow:
        _end(uow.session, UserSession.token_hash == _digest(token), reason, now or utcnow())
        uow.commit()


def end_all(
    session: Session,
    user_id: int,
    reason: SessionEnd,
    now: datetime,
    keep_token: str | None = None,
) -> int:
    """In the caller's transaction: end every live session of the user (but `keep_token`'s).
    Returns how many were ended."""
    condition = UserSession.user_id == user_id
    if keep_token:
        condition = sa.and_(condition, UserSession.token_hash != _digest(keep_token))
    return _end(session, condition, reason, now)


def _end(session: Session, condition: sa.ColumnElement[bool], reason: str, now: datetime) -> int:
    result = session.execute(
        sa.update(UserSession)
        .where(condition, UserSession.ended_at.is_(None))
        .values(ended_at=now, ended_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
