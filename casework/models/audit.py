"""The audit trail: hash-chained events, one chain per province, sealed together."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from casework.models.base import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (sa.UniqueConstraint("chain", "seq"), sa.Index("ix_audit_case", "case_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(sa.String(16))
    seq: Mapped[int]
    occurred_at: Mapped[datetime]
    actor_id: Mapped[int | None]
    actor: Mapped[str] = mapped_column(sa.String(80))
    action: Mapped[str] = mapped_column(sa.String(48))
    case_id: Mapped[int | None]
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: HMAC of the content under the audit key (NULL for events older than revision 0003).
    mac: Mapped[str | None] = mapped_column(sa.String(64))
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class AuditChain(Base):
    """The head of one chain. Writers lock only their own chain's row."""

    __tablename__ = "audit_chains"

    chain: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    head_hash: Mapped[str] = mapped_column(sa.String(64))
    #: The head before the last append: what that event links to.
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    updated_at: Mapped[datetime]


class AuditSeal(Base):
    """All chain heads at one moment, themselves chained: the global head."""

    __tablename__ = "audit_seals"
    #: One successor per seal: two sealers at once cannot fork the chain.
    __table_args__ = (sa.UniqueConstraint("prev_hash", name="uq_audit_seals_prev_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sealed_at: Mapped[datetime]
    heads: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))
