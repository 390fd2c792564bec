"""children's personal identification number; possible matches recorded on reports

A repeat report is linked to a case automatically only on certain evidence (the same
personal identification number, or the same name as written, sex, birth date and commune);
weaker evidence becomes a possible match on the report, for a person to confirm or reject.
Invisible characters are removed from the names already stored (and their keys recomputed),
and a seal may have one successor only.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

import unicodedata

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
    _clean_stored_names()
    # One successor per seal: two sealers at once cannot fork the seal chain.
    with op.batch_alter_table("audit_seals") as batch_op:
        batch_op.create_unique_constraint("uq_audit_seals_prev_hash", ["prev_hash"])


def _visible(value: str) -> str:
    """Revision 0004's rule (frozen here): NFC, format characters (Cf), the combining
    grapheme joiner, variation selectors and Hangul fillers removed."""
    extra = {"\u034f", "\u115f", "\u1160", "\u3164", "\uffa0"} | {
        chr(c) for c in range(0xFE00, 0xFE10)
    }
    kept = "".join(c for c in value if unicodedata.category(c) != "Cf" and c not in extra)
    return unicodedata.normalize("NFC", kept)


def _name_key(full_name: str) -> str:
    folded = unicodedata.normalize("NFD", _visible(full_name).replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(stripped.lower().split())


def _clean_stored_names() -> None:
    children = sa.table(
        "children",
        sa.column("id", sa.Integer),
        sa.column("full_name", sa.String),
        sa.column("name_key", sa.String),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(children.c.id, children.c.full_name, children.c.name_key))
    for child_id, full_name, key in rows.fetchall():
        name = _visible(full_name).strip() or full_name
        if (name, _name_key(name)) != (full_name, key):
            bind.execute(
                children.update()
                .where(children.c.id == child_id)
                .values(full_name=name, name_key=_name_key(name))
            )


def downgrade() -> None:
    with op.batch_alter_table("audit_seals") as batch_op:
        batch_op.drop_constraint("uq_audit_seals_prev_hash", type_="unique")
    op.drop_index("ix_report_matches_report_id", table_name="report_matches")
    op.drop_index("ix_report_matches_case_id", table_name="report_matches")
    op.drop_table("report_matches")
    with op.batch_alter_table("children") as batch_op:
        batch_op.drop_index("ix_children_national_id")
        batch_op.drop_column("national_id")
