"""versioned workflow settings per province: rule_versions replaces deadline_overrides

Each change of a province's deadline, ladder or assignee role becomes a version (who, when,
why, and the date it takes effect); a withdrawal brings back the national default. The
existing overrides are carried over as version 1 of their rule, effective from the moment
they were last changed (`updated_at`), so that no clock opened since reads other values.
deadline_overrides is dropped: a table nobody writes but somebody could still read is a
second source for the same rule; the downgrade rebuilds it from the newest versions.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 15:00:00
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import casework.models.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC_DATETIME = casework.models.base.UTCDateTime(timezone=True)
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
CARRIED_OVER = "Carried over from the settings kept before versions (migration 0012)"

_VALUES = ("duration", "unit", "high_risk_duration", "assignee_role", "legal_source", "ladder")


def _overrides_table() -> sa.TableClause:
    return sa.table(
        "deadline_overrides",
        sa.column("id", sa.Integer()),
        sa.column("province_code", sa.String()),
        sa.column("workflow", sa.String()),
        sa.column("rule", sa.String()),
        sa.column("duration", sa.Integer()),
        sa.column("unit", sa.String()),
        sa.column("high_risk_duration", sa.Integer()),
        sa.column("assignee_role", sa.String()),
        sa.column("legal_source", sa.String()),
        sa.column("ladder", sa.JSON()),
        sa.column("updated_at", UTC_DATETIME),
    )


def _versions_table() -> sa.TableClause:
    return sa.table(
        "rule_versions",
        sa.column("province_code", sa.String()),
        sa.column("workflow", sa.String()),
        sa.column("rule", sa.String()),
        sa.column("version", sa.Integer()),
        sa.column("withdrawn", sa.Boolean()),
        sa.column("duration", sa.Integer()),
        sa.column("unit", sa.String()),
        sa.column("high_risk_duration", sa.Integer()),
        sa.column("assignee_role", sa.String()),
        sa.column("legal_source", sa.String()),
        sa.column("ladder", sa.JSON()),
        sa.column("reason", sa.String()),
        sa.column("effective_on", sa.Date()),
        sa.column("effective_at", UTC_DATETIME),
        sa.column("created_at", UTC_DATETIME),
        sa.column("created_by_id", sa.Integer()),
    )


def upgrade() -> None:
    op.create_table(
        "rule_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=8), nullable=False),
        sa.Column("workflow", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=48), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("high_risk_duration", sa.Integer(), nullable=True),
        sa.Column("assignee_role", sa.String(length=16), nullable=True),
        sa.Column("legal_source", sa.String(length=120), nullable=False),
        sa.Column("ladder", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("effective_at", UTC_DATETIME, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_rule_versions_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_versions")),
        sa.UniqueConstraint(
            "province_code",
            "workflow",
            "rule",
            "version",
            name=op.f("uq_rule_versions_province_code_workflow_rule_version"),
        ),
    )
    bind = op.get_bind()
    old = _overrides_table()
    rows = [
        {
            **{name: row._mapping[name] for name in ("province_code", "workflow", "rule")},
            **{name: row._mapping[name] for name in _VALUES},
            "legal_source": row.legal_source or "",
            "version": 1,
            "withdrawn": False,
            "reason": CARRIED_OVER,
            "effective_on": row.updated_at.astimezone(LOCAL).date(),
            "effective_at": row.updated_at,
            "created_at": row.updated_at,
            "created_by_id": None,
        }
        for row in bind.execute(sa.select(old).order_by(old.c.id))
    ]
    if rows:
        op.bulk_insert(_versions_table(), rows)  # type: ignore[arg-type]
    op.drop_table("deadline_overrides")


def downgrade() -> None:
    op.create_table(
        "deadline_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=8), nullable=False),
        sa.Column("workflow", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=48), nullable=False),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("high_risk_duration", sa.Integer(), nullable=True),
        sa.Column("assignee_role", sa.String(length=16), nullable=True),
        sa.Column("legal_source", sa.String(length=120), nullable=False),
        sa.Column("ladder", sa.JSON(), nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_overrides")),
        sa.UniqueConstraint(
            "province_code",
            "workflow",
            "rule",
            name=op.f("uq_deadline_overrides_province_code_workflow_rule"),
        ),
    )
    # One row per rule: its newest version, unless that is a withdrawal.
    bind = op.get_bind()
    versions = _versions_table()
    newest: dict[tuple[str, str, str], sa.Row] = {}
    for row in bind.execute(sa.select(versions).order_by(versions.c.version)):
        newest[(row.province_code, row.workflow, row.rule)] = row
    rows = [
        {
            "province_code": row.province_code,
            "workflow": row.workflow,
            "rule": row.rule,
            **{name: row._mapping[name] for name in _VALUES},
            "updated_at": row.effective_at,
        }
        for row in newest.values()
        if not row.withdrawn
    ]
    if rows:
        op.bulk_insert(_overrides_table(), rows)  # type: ignore[arg-type]
    op.drop_table("rule_versions")
