"""Administrators act on refused e-mail addresses: send the refused mail again now, or mark
the address as fixed. What "again" means is the outbox's: a notification's mail goes back
to `pending`, due now, with its attempts reset; the delivery loop (notify.deliver) does the
rest, and marks the address refused again if the server still refuses it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from casework import audit, scope
from casework.clock import utcnow
from casework.db import Database
from casework.errors import NotFound
from casework.models import MailStatus, Notification, User


def _failed_user(session: sa.orm.Session, actor: User, user_id: int) -> User:
    """A user with a refused address among those `actor` administers; NotFound otherwise."""
    user = session.scalars(
        sa.select(User).where(
            User.id == user_id,
            User.email_failed_at.is_not(None),
            scope.administered_users(actor),
        )
    ).first()
    if user is None:
        raise NotFound(f"no refused address of user {user_id} among those you administer")
    return user


def retry_mail(db: Database, actor: User, user_id: int, now: datetime | None = None) -> int:
    """Queue the user's failed mail for delivery now and clear the refusal mark (delivery
    sets it again if the server refuses again). Returns how many messages were queued."""
    now = now or utcnow()
    with db.uow() as uow:
        session = uow.session
        user = _failed_user(session, actor, user_id)
        queued = session.execute(  # type: ignore[attr-defined]
            sa.update(Notification)
            .where(
                Notification.user_id == user.id,
                Notification.mail_status.in_((MailStatus.FAILED, MailStatus.PENDING)),
            )
            .values(
                mail_status=MailStatus.PENDING, next_attempt_at=now, mail_attempts=0, last_error=""
            )
        ).rowcount
        _clear(user)
        audit.record(
            session,
            uow.settings.audit_key,
            actor=actor,
            action="user.mail_retried",
            now=now,
            province_code=user.province_code,
            summary={"user_id": user.id, "queued": queued},
        )
        uow.commit()
        return int(queued or 0)


def mark_address_fixed(
    db: Database, actor: User, user_id: int, now: datetime | None = None
) -> None:
    """The address was corrected (or the mailbox repaired): clear the refusal mark without
    sending the old mail again."""
    now = now or utcnow()
    with db.uow() as uow:
        session = uow.session
        user = _failed_user(session, actor, user_id)
        error = user.email_error
        _clear(user)
        audit.record(
            session,
            uow.settings.audit_key,
            actor=actor,
            action="user.mail_address_fixed",
            now=now,
            province_code=user.province_code,
            summary={"user_id": user.id, "error": error[:120]},
        )
        uow.commit()


def _clear(user: User) -> None:
    user.email_failed_at = None
    user.email_error = ""
