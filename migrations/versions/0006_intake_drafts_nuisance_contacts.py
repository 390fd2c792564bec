"""intake page: drafts kept on the server, contacts without case data, reporters' phones

A report being typed is kept as a draft per user; silent calls, hang-ups, wrong numbers,
pranks and thanks are counted without any personal data; a report's reporter phone is kept
as digits (indexed) so that a caller's earlier contacts are found at once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import casework.models.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("updated_at", casework.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_intake_drafts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_drafts")),
        sa.UniqueConstraint("user_id", name=op.f("uq_intake_drafts_user_id")),
    )
    op.create_table(
        "nuisance_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("received_at", casework.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("province_code", sa.String(length=8), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_nuisance_contacts_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nuisance_contacts")),
    )
    with op.batch_alter_table("nuisance_contacts") as batch_op:
        batch_op.create_index(
            "ix_nuisance_contacts_province", ["province_code", "received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_nuisance_contacts_created_by_id"), ["created_by_id"], unique=False
        )
    with op.batch_alter_table("reports") as batch_op:
        batch_op.add_column(sa.Column("reporter_phone", sa.String(length=20), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_reports_reporter_phone"), ["reporter_phone"], unique=False
        )
    _fill_reporter_phones()


def _phone_key(phone: str) -> str:
    """Revision 0006's rule (frozen here; casework.names.phone_key)."""
    digits = "".join(ch for ch in phone if ch.isascii() and ch.isdigit())
    if phone.strip().startswith("+84") or (digits.startswith("84") and len(digits) >= 11):
        digits = "0" + digits[2:]
    return digits[:20]


def _fill_reporter_phones() -> None:
    reports = sa.table(
        "reports",
        sa.column("id", sa.Integer),
        sa.column("reporter", sa.JSON),
        sa.column("reporter_phone", sa.String),
    )
    bind = op.get_bind()
    for report_id, reporter in bind.execute(sa.select(reports.c.id, reports.c.reporter)).all():
        phone = (reporter or {}).get("phone") if isinstance(reporter, dict) else None
        key = _phone_key(phone) if isinstance(phone, str) else ""
        if key:
            bind.execute(
                reports.update().where(reports.c.id == report_id).values(reporter_phone=key)
            )


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_reporter_phone"))
        batch_op.drop_column("reporter_phone")
    with op.batch_alter_table("nuisance_contacts") as batch_op:
        batch_op.drop_index(batch_op.f("ix_nuisance_contacts_created_by_id"))
        batch_op.drop_index("ix_nuisance_contacts_province")
    op.drop_table("nuisance_contacts")
    op.drop_table("intake_drafts")
