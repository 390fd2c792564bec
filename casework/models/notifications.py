"""Notifications: one row per recipient, both the in-app inbox and the mail outbox."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from casework.models.base import Base


class MailStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the delivery loop (or for its retry time)
    SENT = "sent"
    FAILED = "failed"  # given up: permanent refusal or too many attempts
    NONE = "none"  # the user has no e-mail address: inbox only


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint("fired_rung_id", "user_id"),
        sa.Index("ix_notifications_inbox", "user_id", "read_at"),
        sa.Index(
            "ix_notifications_outbox",
            "next_attempt_at",
            postgresql_where=sa.text("mail_status = 'pending'"),
            sqlite_where=sa.text("mail_status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    fired_rung_id: Mapped[int | None] = mapped_column(sa.ForeignKey("fired_rungs.id"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    #: Rendered in the recipient's language; a case reference and a link, never a name.
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    mail_status: Mapped[str] = mapped_column(sa.String(16), default=MailStatus.PENDING)
    mail_attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(sa.String(300), default="")
    sent_at: Mapped[datetime | None]
