"""administration of users: a version per user row, names and last use of API tokens

Two administrators editing one user: the form carries the row's version and a stale save
is refused. A token gets a name (what it is for) and the time it was last used.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import casework.models.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC_DATETIME = casework.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.add_column(
            sa.Column("name", sa.String(length=80), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("last_used_at", UTC_DATETIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("name")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("version")
