"""escalation ladder, fired rungs, notifications

Open deadlines of an existing database get the national default ladder (as of this
revision) and their first rung's time, so that clocks started before the upgrade escalate too.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:09:16.976936
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import casework.models.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fired_rungs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deadline_id", sa.Integer(), nullable=False),
        sa.Column("rung_index", sa.Integer(), nullable=False),
        sa.Column("rung", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("scheduled_at", casework.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("fired_at", casework.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_fired_rungs_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["deadline_id"], ["deadlines.id"], name=op.f("fk_fired_rungs_deadline_id_deadlines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fired_rungs")),
        sa.UniqueConstraint(
            "deadline_id", "rung_index", name=op.f("uq_fired_rungs_deadline_id_rung_index")
        ),
    )
    with op.batch_alter_table("fired_rungs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fired_rungs_case_id"), ["case_id"], unique=False)

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("fired_rung_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", casework.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", casework.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mail_status", sa.String(length=16), nullable=False),
        sa.Column("mail_attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", casework.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("last_error", sa.String(length=300), nullable=False),
        sa.Column("sent_at", casework.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_notifications_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["fired_rung_id"],
            ["fired_rungs.id"],
            name=op.f("fk_notifications_fired_rung_id_fired_rungs"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "fired_rung_id", "user_id", name=op.f("uq_notifications_fired_rung_id_user_id")
        ),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_inbox", ["user_id", "read_at"], unique=False)
        batch_op.create_index(
            "ix_notifications_outbox",
            ["next_attempt_at"],
            unique=False,
            postgresql_where=sa.text("mail_status = 'pending'"),
            sqlite_where=sa.text("mail_status = 'pending'"),
        )

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("overdue")

    with op.batch_alter_table("deadline_overrides", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ladder", sa.JSON(), nullable=True))

    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("task_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ladder", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("next_rung", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "next_fire_at", casework.models.base.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_index(
            "ix_deadlines_next_fire",
            ["next_fire_at"],
            unique=False,
            postgresql_where=sa.text("next_fire_at IS NOT NULL"),
            sqlite_where=sa.text("next_fire_at IS NOT NULL"),
        )
        batch_op.create_index(batch_op.f("ix_deadlines_task_id"), ["task_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_deadlines_task_id_plan_tasks"), "plan_tasks", ["task_id"], ["id"]
        )

    with op.batch_alter_table("plan_tasks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "responded_at", casework.models.base.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "completed_at", casework.models.base.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=False, server_default=""))

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "email_failed_at", casework.models.base.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("email_error", sa.String(length=300), nullable=False, server_default="")
        )

    _backfill_ladders()


def _ladder(unit: str) -> list[dict]:
    escalate = (
        {"offset": 1, "offset_unit": "working_days"}
        if unit == "working_days"
        else {"offset": 24, "offset_unit": "hours"}
    )
    return [
        {
            "name": "reminded",
            "at_fraction": 0.75,
            "offset": 0,
            "offset_unit": None,
            "notify": ["assignee"],
        },
        {
            "name": "overdue",
            "at_fraction": 1.0,
            "offset": 0,
            "offset_unit": None,
            "notify": ["assignee", "chair"],
        },
        {"name": "escalated", "at_fraction": None, **escalate, "notify": ["province"]},
    ]


def _backfill_ladders() -> None:
    from datetime import UTC

    conn = op.get_bind()
    deadlines = sa.table(
        "deadlines",
        sa.column("id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("unit", sa.String),
        sa.column("anchor_at", casework.models.base.UTCDateTime()),
        sa.column("due_at", casework.models.base.UTCDateTime()),
        sa.column("ladder", sa.JSON),
        sa.column("next_fire_at", casework.models.base.UTCDateTime()),
    )
    rows = conn.execute(
        sa.select(
            deadlines.c.id, deadlines.c.unit, deadlines.c.anchor_at, deadlines.c.due_at
        ).where(deadlines.c.status == "open")
    ).all()
    for row in rows:
        anchor, due = (
            value if value.tzinfo else value.replace(tzinfo=UTC)
            for value in (row.anchor_at, row.due_at)
        )
        conn.execute(
            sa.update(deadlines)
            .where(deadlines.c.id == row.id)
            .values(ladder=_ladder(row.unit), next_fire_at=anchor + (due - anchor) * 0.75)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_error")
        batch_op.drop_column("email_failed_at")

    with op.batch_alter_table("plan_tasks", schema=None) as batch_op:
        batch_op.drop_column("note")
        batch_op.drop_column("completed_at")
        batch_op.drop_column("responded_at")

    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_deadlines_task_id_plan_tasks"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_deadlines_task_id"))
        batch_op.drop_index(
            "ix_deadlines_next_fire",
            postgresql_where=sa.text("next_fire_at IS NOT NULL"),
            sqlite_where=sa.text("next_fire_at IS NOT NULL"),
        )
        batch_op.drop_column("next_fire_at")
        batch_op.drop_column("next_rung")
        batch_op.drop_column("ladder")
        batch_op.drop_column("task_id")

    with op.batch_alter_table("deadline_overrides", schema=None) as batch_op:
        batch_op.drop_column("ladder")

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("overdue", sa.BOOLEAN(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_notifications_outbox",
            postgresql_where=sa.text("mail_status = 'pending'"),
            sqlite_where=sa.text("mail_status = 'pending'"),
        )
        batch_op.drop_index("ix_notifications_inbox")

    op.drop_table("notifications")
    with op.batch_alter_table("fired_rungs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fired_rungs_case_id"))

    op.drop_table("fired_rungs")
