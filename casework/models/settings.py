"""Workflow settings an administrator changes per province, without code."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from casework.models.base import Base


class RuleVersion(Base):
    """One version of a province's own values for one deadline rule of a workflow (e.g. QĐ
    704 Quảng Nam): who decided it, why, and from when it applies. Versions are never
    changed or deleted; a new one replaces the one before from its effective moment on, and
    a withdrawal (`withdrawn`) brings back the national default. Numbered 1, 2, … per
    province, workflow and rule; their effective dates never go back in time."""

    __tablename__ = "rule_versions"
    __table_args__ = (sa.UniqueConstraint("province_code", "workflow", "rule", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    province_code: Mapped[str] = mapped_column(sa.String(8))
    workflow: Mapped[str] = mapped_column(sa.String(32))
    rule: Mapped[str] = mapped_column(sa.String(48))
    version: Mapped[int]
    #: A withdrawal: from its effective moment the national default applies again.
    withdrawn: Mapped[bool] = mapped_column(default=False)
    duration: Mapped[int | None]
    unit: Mapped[str | None] = mapped_column(sa.String(16))
    high_risk_duration: Mapped[int | None]
    assignee_role: Mapped[str | None] = mapped_column(sa.String(16))
    legal_source: Mapped[str] = mapped_column(sa.String(120), default="")
    #: The province's own escalation ladder for this rule (list of rungs), if any.
    ladder: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    reason: Mapped[str] = mapped_column(sa.String(500))
    #: The local date (Asia/Ho_Chi_Minh) it takes effect, and that date's local midnight.
    effective_on: Mapped[date] = mapped_column(sa.Date)
    effective_at: Mapped[datetime]
    created_at: Mapped[datetime]
    #: Who decided it (NULL: the command line, or carried over from before versions).
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
