"""agencies' focal points: the people to contact at a partner agency

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agency_focal_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_agency_focal_points_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_focal_points")),
    )
    with op.batch_alter_table("agency_focal_points", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agency_focal_points_agency_id"), ["agency_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("agency_focal_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agency_focal_points_agency_id"))
    op.drop_table("agency_focal_points")
