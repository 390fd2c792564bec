"""indexes for the case lists at scale; the agency's answers on a task

The lists read a commune's or a province's cases newest first: (unit_id, received_at, id)
and (province_code, received_at, id) serve that order, and replace the single-column
indexes they begin with. On PostgreSQL, trigram indexes (pg_trgm, a trusted extension the
database owner may create) let a search inside child names and case references use an
index instead of reading every case. task_updates keeps each answer an agency gives.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import casework.models.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_unit_received", ["unit_id", "received_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_cases_province_received", ["province_code", "received_at", "id"], unique=False
        )
        batch_op.drop_index("ix_cases_unit")
        batch_op.drop_index("ix_cases_province")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_cases_reference_trgm",
            "cases",
            ["reference"],
            postgresql_using="gin",
            postgresql_ops={"reference": "gin_trgm_ops"},
        )
        op.create_index(
            "ix_children_name_key_trgm",
            "children",
            ["name_key"],
            postgresql_using="gin",
            postgresql_ops={"name_key": "gin_trgm_ops"},
        )
    op.create_table(
        "task_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", casework.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_task_updates_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["plan_tasks.id"], name=op.f("fk_task_updates_task_id_plan_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_updates")),
    )
    op.create_index(op.f("ix_task_updates_task_id"), "task_updates", ["task_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_task_updates_task_id"), table_name="task_updates")
    op.drop_table("task_updates")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_children_name_key_trgm", table_name="children")
        op.drop_index("ix_cases_reference_trgm", table_name="cases")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_province", ["province_code"], unique=False)
        batch_op.create_index("ix_cases_unit", ["unit_id"], unique=False)
        batch_op.drop_index("ix_cases_province_received")
        batch_op.drop_index("ix_cases_unit_received")
