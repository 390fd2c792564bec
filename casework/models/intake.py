"""What the hotline intake page keeps besides reports: drafts being typed, and contacts that
carry no case data (silent calls, hang-ups, wrong numbers, pranks, thanks)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from casework.models.base import Base


class IntakeDraft(Base):
    """What a user has typed of a report not yet saved: one per user, seen by its author
    alone, so that a closed tab, a lost connection or a session timeout loses nothing."""

    __tablename__ = "intake_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), unique=True)
    #: The form's fields as typed: [[name, value], ...] (repeated names for several choices).
    fields: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[datetime]


class NuisanceKind(enum.StrEnum):
    SILENT = "silent"
    HANG_UP = "hang_up"
    WRONG_NUMBER = "wrong_number"
    PRANK = "prank"
    THANKS = "thanks"


class NuisanceContact(Base):
    """A contact that carries no case data, recorded in one keystroke and counted."""

    __tablename__ = "nuisance_contacts"
    __table_args__ = (sa.Index("ix_nuisance_contacts_province", "province_code", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    received_at: Mapped[datetime]
    #: The province of the intake point that took it (for the statistics).
    province_code: Mapped[str | None] = mapped_column(sa.String(8))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
