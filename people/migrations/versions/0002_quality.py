"""The quality loop: which feedback became a golden-local case, and the refused
questions kept for "Fehlende Themen" (only with record_unanswered on).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("case_id", sa.String(64), nullable=True))
    op.create_table(
        "unanswered",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
    )
    op.create_index("ix_unanswered_created_at", "unanswered", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_unanswered_created_at", "unanswered")
    op.drop_table("unanswered")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("case_id")
