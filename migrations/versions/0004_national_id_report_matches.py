"""children's personal identification number; possible matches recorded on reports

A repeat report is linked to a case automatically only on certain evidence (the same
personal identification number, or the same name as written, sex, birth date and commune);
weaker evidence becomes a possible match on the report, for a person to confirm or reject.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import casework.models.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("children") as batch_op:
        batch_op.add_column(sa.Column("national_id", sa.String(length=12), nullable=True))
        batch_op.create_index("ix_children_national_id", ["national_id"], unique=False)
    op.create_table(
        "report_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", casework.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", casework.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id", "case_id"),
    )
    op.create_index("ix_report_matches_case_id", "report_matches", ["case_id"], unique=False)
    op.create_index("ix_report_matches_report_id", "report_matches", ["report_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_report_matches_report_id", table_name="report_matches")
    op.drop_index("ix_report_matches_case_id", table_name="report_matches")
    op.drop_table("report_matches")
    with op.batch_alter_table("children") as batch_op:
        batch_op.drop_index("ix_children_national_id")
        batch_op.drop_column("national_id")
