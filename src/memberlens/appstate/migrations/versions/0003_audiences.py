"""Saved audiences, their frozen member lists and per-channel opt-outs (memberlens.activation).

Revision ID: 0003_audiences
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_audiences"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audiences",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("expression", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_audiences_name", "audiences", ["name"], unique=True)
    op.create_table(
        "audience_snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "audience_id",
            sa.Integer,
            sa.ForeignKey("audiences.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("expression", sa.Text, nullable=False),
        sa.Column("member_count", sa.Integer, nullable=False),
        sa.Column("members", sa.LargeBinary, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_audience_snapshots_audience_id", "audience_snapshots", ["audience_id"])
    op.create_table(
        "opt_outs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("member_id", "channel", name="uq_opt_outs_member_channel"),
    )
    op.create_index("ix_opt_outs_channel", "opt_outs", ["channel"])


def downgrade() -> None:
    op.drop_table("opt_outs")
    op.drop_table("audience_snapshots")
    op.drop_table("audiences")
