"""Children, reports, cases, their history, deadlines and plan tasks."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.models.base import Base
from casework.models.units import AdministrativeUnit, Agency
from casework.models.users import User


class Child(Base):
    """The child a report is about. Identifying data: every read is audited."""

    __tablename__ = "children"
    __table_args__ = (
        # Search inside names (queries.case_page); PostgreSQL only, like the references'.
        sa.Index(
            "ix_children_name_key_trgm",
            "name_key",
            postgresql_using="gin",
            postgresql_ops={"name_key": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(sa.String(200))
    #: Lower-cased, accent-free name used to find repeat reports.
    name_key: Mapped[str] = mapped_column(sa.String(200), index=True)
    sex: Mapped[str] = mapped_column(sa.String(8))  # female / male / unknown
    birth_date: Mapped[date | None] = mapped_column(sa.Date)
    #: When only an estimated age is known: the age and the date it was estimated.
    age_years: Mapped[int | None]
    age_as_of: Mapped[date | None] = mapped_column(sa.Date)
    residence_unit_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("administrative_units.id"), index=True
    )
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    #: The 12-digit personal identification number (số định danh cá nhân), when known:
    #: the one piece of evidence that links a report to a case on its own.
    national_id: Mapped[str | None] = mapped_column(sa.String(12), index=True)
    identifiers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]

    residence_unit: Mapped[AdministrativeUnit | None] = relationship()

    def age_on(self, day: date) -> int | None:
        if self.birth_date is not None:
            years = day.year - self.birth_date.year
            if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
                years -= 1
            return years
        if self.age_years is not None and self.age_as_of is not None:
            return self.age_years + (day - self.age_as_of).days // 365
        return None


class ReportKind(enum.StrEnum):
    ABUSE_REPORT = "abuse_report"
    ADVICE = "advice"  # tư vấn: a contact, not a case


class Report(Base):
    """A report or contact received at an intake point (Mẫu 01)."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    channel: Mapped[str] = mapped_column(sa.String(32))
    received_at: Mapped[datetime]
    reporter: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The reporter's phone as digits (names.phone_key): finds a caller's earlier contacts.
    reporter_phone: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    child_id: Mapped[int | None] = mapped_column(sa.ForeignKey("children.id"), index=True)
    incident_unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("administrative_units.id"))
    abuse_types: Mapped[list[Any]] = mapped_column(default=list)
    online: Mapped[bool] = mapped_column(default=False)
    environment: Mapped[str | None] = mapped_column(sa.String(16))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    #: True when this report was linked to a case that already existed (a repeat report).
    linked_to_existing: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]

    child: Mapped[Child | None] = relationship()
    incident_unit: Mapped[AdministrativeUnit | None] = relationship()


class MatchStatus(enum.StrEnum):
    OPEN = "open"  # for a person to confirm or reject
    CONFIRMED = "confirmed"  # the same child
    REJECTED = "rejected"  # a different child


class ReportMatch(Base):
    """A case that may be about the same child as a report, on evidence too weak to link
    them automatically (a folded name, an age instead of a date, another commune): recorded
    on the report for a person to confirm or reject."""

    __tablename__ = "report_matches"
    __table_args__ = (sa.UniqueConstraint("report_id", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("reports.id"), index=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    #: Why it may be the same child, e.g. ["name_folded", "birth_year", "commune"].
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(sa.String(16), default=MatchStatus.OPEN)
    created_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]


class Case(Base):
    """One child's protection case, moved through the workflow by events only."""

    __tablename__ = "cases"
    __table_args__ = (
        # No index holds `state`, `version` or `facts`, and PostgreSQL leaves a fifth of
        # each page free: an event's UPDATE is then a HOT update that touches no index.
        # The lists' keyset order within a commune and a province (queries.case_page).
        sa.Index("ix_cases_unit_received", "unit_id", "received_at", "id"),
        sa.Index("ix_cases_province_received", "province_code", "received_at", "id"),
        # Search inside references (PostgreSQL: trigrams; SQLite scans, it is small).
        sa.Index(
            "ix_cases_reference_trgm",
            "reference",
            postgresql_using="gin",
            postgresql_ops={"reference": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        {"postgresql_with": {"fillfactor": 80}},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(32), unique=True)
    workflow: Mapped[str] = mapped_column(sa.String(32), default="case")
    child_id: Mapped[int] = mapped_column(sa.ForeignKey("children.id"), index=True)
    #: The commune responsible now (where the incident happened, or where it was transferred).
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("administrative_units.id"))
    province_code: Mapped[str] = mapped_column(sa.String(8))
    state: Mapped[str] = mapped_column(sa.String(32))
    risk_level: Mapped[str | None] = mapped_column(sa.String(16))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    received_at: Mapped[datetime]
    #: Anchor of the statutory clocks of the current cycle (receipt of the report that
    #: opened or reopened the case, or the re-plan decision).
    clock_started_at: Mapped[datetime]
    cycle: Mapped[int] = mapped_column(default=1)
    #: Sequence number of the last history row (CaseTransition.seq).
    last_seq: Mapped[int] = mapped_column(default=0)
    state_entered_at: Mapped[datetime]
    #: Form data the guards need: Mẫu 02 (initial), Mẫu 03 (specific assessment),
    #: the emergency decision, Mẫu 04 (plan) and Mẫu 06 (review).
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    child: Mapped[Child] = relationship()
    unit: Mapped[AdministrativeUnit] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])

    __mapper_args__ = {"version_id_col": version}


class CaseTransition(Base):
    """The case's history: one row per event fired."""

    __tablename__ = "case_transitions"
    __table_args__ = (sa.UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    seq: Mapped[int]
    event: Mapped[str] = mapped_column(sa.String(32))
    from_state: Mapped[str | None] = mapped_column(sa.String(32))
    to_state: Mapped[str] = mapped_column(sa.String(32))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    occurred_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    actor: Mapped[User | None] = relationship()


class DeadlineStatus(enum.StrEnum):
    OPEN = "open"
    MET = "met"
    CANCELLED = "cancelled"  # the step no longer applies (e.g. case closed as unfounded)


class Deadline(Base):
    """A statutory clock: met when its step is left, late or on time.

    Its escalation ladder is copied in when it opens (`ladder`), so that a later change of
    the province's settings never rewrites a running clock; `next_rung`/`next_fire_at` say
    what fires next and when (NULL once the ladder is done or the deadline is closed), and
    the sweep finds due rungs through the partial index on `next_fire_at` alone.
    """

    __tablename__ = "deadlines"
    __table_args__ = (
        # Partial where they can be: a met or cancelled clock leaves these indexes.
        sa.Index(
            "ix_deadlines_open_due",
            "due_at",
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        ),
        sa.Index("ix_deadlines_case", "case_id"),
        sa.Index(
            "ix_deadlines_task_id",
            "task_id",
            postgresql_where=sa.text("task_id IS NOT NULL"),
            sqlite_where=sa.text("task_id IS NOT NULL"),
        ),
        sa.Index(
            "ix_deadlines_next_fire",
            "next_fire_at",
            postgresql_where=sa.text("next_fire_at IS NOT NULL"),
            sqlite_where=sa.text("next_fire_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    rule: Mapped[str] = mapped_column(sa.String(48))
    step: Mapped[str] = mapped_column(sa.String(32))
    cycle: Mapped[int] = mapped_column(default=1)
    anchor_at: Mapped[datetime]
    due_at: Mapped[datetime]
    duration: Mapped[int]
    unit: Mapped[str] = mapped_column(sa.String(16))
    legal_source: Mapped[str] = mapped_column(sa.String(120), default="")
    status: Mapped[str] = mapped_column(sa.String(16), default=DeadlineStatus.OPEN)
    met_at: Mapped[datetime | None]
    late: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    #: Set for an agency task's clocks; NULL for the case's own steps.
    task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("plan_tasks.id"))
    ladder: Mapped[list[Any]] = mapped_column(default=list)
    next_rung: Mapped[int] = mapped_column(default=0)
    next_fire_at: Mapped[datetime | None]


class FiredRung(Base):
    """One rung of one deadline's ladder that has fired. Unique: a rung fires once."""

    __tablename__ = "fired_rungs"
    __table_args__ = (sa.UniqueConstraint("deadline_id", "rung_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deadline_id: Mapped[int] = mapped_column(sa.ForeignKey("deadlines.id"))
    rung_index: Mapped[int]
    rung: Mapped[str] = mapped_column(sa.String(32))
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    #: When it was due to fire, and when a sweep fired it.
    scheduled_at: Mapped[datetime]
    fired_at: Mapped[datetime]


class PlanTaskStatus(enum.StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    DONE = "done"
    #: A later plan replaced it before any agency answered (kept for the record).
    SUPERSEDED = "superseded"
    #: The case moved to another commune before the task was done: the receiving commune
    #: makes its own plan (kept for the record; the agency is told).
    CANCELLED = "cancelled"


#: Tasks still to be answered or done: their clocks run, and a move cancels them.
OPEN_TASK_STATUSES = (PlanTaskStatus.PROPOSED, PlanTaskStatus.ACCEPTED)
#: Tasks that give their agency access to the case (scope.py): all but declined,
#: superseded and cancelled ones.
ACCESS_TASK_STATUSES = (*OPEN_TASK_STATUSES, PlanTaskStatus.DONE)


class PlanTask(Base):
    """A measure of the support/intervention plan (Mẫu 04), one agency's task."""

    __tablename__ = "plan_tasks"
    __table_args__ = (
        # The overview's agencies tile: tasks declined or still open (migration 0013).
        sa.Index(
            "ix_plan_tasks_attention",
            "case_id",
            postgresql_where=sa.text("status IN ('proposed', 'accepted', 'declined')"),
            sqlite_where=sa.text("status IN ('proposed', 'accepted', 'declined')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    agency_kind: Mapped[str] = mapped_column(sa.String(32))
    agency_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agencies.id"), index=True)
    action: Mapped[str] = mapped_column(sa.Text)
    due_date: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(16), default=PlanTaskStatus.PROPOSED)
    created_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(sa.Text, default="")

    agency: Mapped[Agency | None] = relationship()


class TaskUpdate(Base):
    """One answer of the agency on its task — accepted, declined (with why), progress
    recorded, completed — in the order given: the task's own short history, which the
    agency and the case's staff read."""

    __tablename__ = "task_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_tasks.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(16))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    at: Mapped[datetime]
