"""Workflow settings an administrator changes per province, without code."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from casework.models.base import Base


class DeadlineOverride(Base):
    """A province's own value for one deadline rule of a workflow (e.g. QĐ 704 Quảng Nam)."""

    __tablename__ = "deadline_overrides"
    __table_args__ = (sa.UniqueConstraint("province_code", "workflow", "rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    province_code: Mapped[str] = mapped_column(sa.String(8))
    workflow: Mapped[str] = mapped_column(sa.String(32))
    rule: Mapped[str] = mapped_column(sa.String(48))
    duration: Mapped[int | None]
    unit: Mapped[str | None] = mapped_column(sa.String(16))
    high_risk_duration: Mapped[int | None]
    assignee_role: Mapped[str | None] = mapped_column(sa.String(16))
    legal_source: Mapped[str] = mapped_column(sa.String(120), default="")
    #: The province's own escalation ladder for this rule (list of rungs), if any.
    ladder: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    updated_at: Mapped[datetime]
