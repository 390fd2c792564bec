"""The reader's commands on their inbox (casework.services.queries reads it)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from casework.clock import utcnow
from casework.db import Database
from casework.errors import NotFound
from casework.models import Notification, User


def mark_read(db: Database, user: User, notification_id: int, now: datetime | None = None) -> None:
    """Mark one of the user's notifications read (another's answers like a missing one)."""
    now = now or utcnow()
    with db.uow() as uow:
        row = uow.session.scalars(
            sa.select(Notification).where(
                Notification.id == notification_id, Notification.user_id == user.id
            )
        ).first()
        if row is None:
            raise NotFound(f"notification {notification_id} not found")
        if row.read_at is None:
            row.read_at = now
        uow.commit()
