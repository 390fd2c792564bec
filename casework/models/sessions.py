"""Signed-in sessions of the web pages, held on the server so that they can be ended."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.models.base import Base
from casework.models.users import User


class SessionEnd(enum.StrEnum):
    LOGOUT = "logout"
    IDLE = "idle"  # no request for longer than the idle timeout
    EXPIRED = "expired"  # older than the absolute timeout
    USER_DISABLED = "user_disabled"
    PASSWORD_CHANGED = "password_changed"


class UserSession(Base):
    """One sign-in. The browser's (signed) session cookie carries a random token; only its
    SHA-256 is stored, so a copy of this table opens no session. A session is live while
    `ended_at` is empty."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(sa.String(32))

    user: Mapped[User] = relationship()
