"""audit MAC per event; lean indexes for the write path

Audit events get a MAC of their content (the chain link becomes sha256 of the previous
hash, the sequence number and the MAC, computed in the database); events written before
keep their hash and verify as before. Chain heads remember their previous hash.

Indexes that held columns every event changes (`cases.state`, `deadlines.status`) go or
become partial, and `cases` keeps a fifth of each page free on PostgreSQL, so that most
events update a case without touching any index (HOT updates).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
    with op.batch_alter_table("audit_chains") as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_index("ix_cases_unit_state")
        batch_op.drop_index("ix_cases_province_state")
        batch_op.create_index("ix_cases_unit", ["unit_id"], unique=False)
        batch_op.create_index("ix_cases_province", ["province_code"], unique=False)
    with op.batch_alter_table("deadlines") as batch_op:
        batch_op.drop_index("ix_deadlines_open_due")
        batch_op.drop_index("ix_deadlines_case")
        batch_op.drop_index("ix_deadlines_task_id")
        batch_op.create_index(
            "ix_deadlines_open_due",
            ["due_at"],
            unique=False,
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )
        batch_op.create_index("ix_deadlines_case", ["case_id"], unique=False)
        batch_op.create_index(
            "ix_deadlines_task_id",
            ["task_id"],
            unique=False,
            postgresql_where=sa.text("task_id IS NOT NULL"),
            sqlite_where=sa.text("task_id IS NOT NULL"),
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE cases SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE cases RESET (fillfactor)")
    with op.batch_alter_table("deadlines") as batch_op:
        batch_op.drop_index("ix_deadlines_task_id")
        batch_op.drop_index("ix_deadlines_case")
        batch_op.drop_index("ix_deadlines_open_due")
        batch_op.create_index("ix_deadlines_task_id", ["task_id"], unique=False)
        batch_op.create_index("ix_deadlines_case", ["case_id", "status"], unique=False)
        batch_op.create_index("ix_deadlines_open_due", ["status", "due_at"], unique=False)
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_index("ix_cases_province")
        batch_op.drop_index("ix_cases_unit")
        batch_op.create_index("ix_cases_province_state", ["province_code", "state"], unique=False)
        batch_op.create_index("ix_cases_unit_state", ["unit_id", "state"], unique=False)
    with op.batch_alter_table("audit_chains") as batch_op:
        batch_op.drop_column("prev_hash")
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_column("mac")
