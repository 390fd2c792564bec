"""the tasks a supervisor's overview counts: an index of those declined or still open

The dashboard's agencies tile counts tasks declined, or proposed/accepted past their date,
on open cases. A partial index on those statuses lets it read them without reading every
task a province ever had (done, superseded and cancelled ones are most of them).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

WHERE = sa.text("status IN ('proposed', 'accepted', 'declined')")


def upgrade() -> None:
    op.create_index(
        "ix_plan_tasks_attention",
        "plan_tasks",
        ["case_id"],
        postgresql_where=WHERE,
        sqlite_where=WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_plan_tasks_attention", table_name="plan_tasks")
