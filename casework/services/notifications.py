"""The reader's commands on their inbox (casework.services.queries reads it)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from casework.clock import utcnow
from casework.db import Database
from casework.errors import NotFound
from casework.models import FiredRung, Notification, User


def mark_read(db: Database, user: User, notification_id: int, now: datetime | None = None) -> None:
    """Mark one of the user's notifications read (another's answers like a missing one).
    A deadline's notices are one item in the inbox: reading its latest reads them all."""
    now = now or utcnow()
    with db.uow() as uow:
        row = uow.session.scalars(
            sa.select(Notification).where(
                Notification.id == notification_id, Notification.user_id == user.id
            )
        ).first()
        if row is None:
            raise NotFound(f"notification {notification_id} not found")
        same = Notification.id == row.id
        if row.fired_rung_id is not None:
            deadline = sa.select(FiredRung.deadline_id).where(FiredRung.id == row.fired_rung_id)
            rungs = sa.select(FiredRung.id).where(FiredRung.deadline_id.in_(deadline))
            same = sa.or_(same, Notification.fired_rung_id.in_(rungs))
        uow.session.execute(
            sa.update(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None), same)
            .values(read_at=now)
        )
        uow.commit()


def mark_all_read(
    db: Database, user: User, up_to: int | None = None, now: datetime | None = None
) -> int:
    """Mark every unread notification of the user read — up to `up_to`, the newest the
    reader had in front of them (one that arrived since stays unread). Returns how many."""
    now = now or utcnow()
    with db.uow() as uow:
        statement = sa.update(Notification).where(
            Notification.user_id == user.id, Notification.read_at.is_(None)
        )
        if up_to is not None:
            statement = statement.where(Notification.id <= up_to)
        result = uow.session.execute(statement.values(read_at=now))
        count = getattr(result, "rowcount", 0)  # a CursorResult: an UPDATE's row count
        uow.commit()
        return int(count or 0)
