"""What people add to a case beside its events: notes and attachments (signed minutes,
decisions). Both belong to the case's record and are read under the case's scope."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from casework.models.base import Base


class CaseNote(Base):
    """A worker's note on a case. Written once, never edited (the record is the record)."""

    __tablename__ = "case_notes"
    __table_args__ = (sa.Index("ix_case_notes_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime]


class CaseAttachment(Base):
    """A file on a case (a signed record, a decision). The content lives outside the web
    root under a random name (`stored_name`); only its metadata is here."""

    __tablename__ = "case_attachments"
    __table_args__ = (sa.Index("ix_case_attachments_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))  # minutes / decision / other
    title: Mapped[str] = mapped_column(sa.String(200))
    #: The name the file came with (shown and offered on download), and the stored one.
    filename: Mapped[str] = mapped_column(sa.String(200))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime]
