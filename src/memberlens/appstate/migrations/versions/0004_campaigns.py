"""Campaigns, the send ledger (one row per campaign, member and channel), suppressions and
trigger rules (memberlens.activation).

Revision ID: 0004_campaigns
Revises: 0003_audiences
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_campaigns"
down_revision = "0003_audiences"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activation_campaigns",
        sa.Column("campaign_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("audience", sa.Text, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("template", sa.Text, nullable=True),
        sa.Column("offer", sa.String(200), nullable=True),
        sa.Column("holdout", sa.Float, nullable=False),
        sa.Column("arms", sa.Text, nullable=False),
        sa.Column("starts_at", sa.DateTime, nullable=True),
        sa.Column("ends_at", sa.DateTime, nullable=True),
        sa.Column("trigger", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("planned_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "campaign_sends",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "campaign_id",
            sa.String(64),
            sa.ForeignKey("activation_campaigns.campaign_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("arm", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("campaign_id", "member_id", "channel", name="uq_campaign_sends_key"),
    )
    op.create_index("ix_campaign_sends_status", "campaign_sends", ["campaign_id", "status"])
    op.create_index("ix_campaign_sends_member", "campaign_sends", ["member_id", "sent_at"])
    op.create_table(
        "suppressions",
        sa.Column("member_id", sa.String(64), primary_key=True),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("until", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "trigger_rules",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("template", sa.Text, nullable=True),
        sa.Column("offer", sa.String(200), nullable=True),
        sa.Column("holdout", sa.Float, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=True),
    )
    op.create_table(
        "trigger_runs",
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("run_date", sa.Date, nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=True),
        sa.Column("fired", sa.Integer, nullable=False),
        sa.Column("ran_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("rule", "run_date", name="pk_trigger_runs"),
    )


def downgrade() -> None:
    op.drop_table("trigger_runs")
    op.drop_table("trigger_rules")
    op.drop_table("suppressions")
    op.drop_index("ix_campaign_sends_member", "campaign_sends")
    op.drop_index("ix_campaign_sends_status", "campaign_sends")
    op.drop_table("campaign_sends")
    op.drop_table("activation_campaigns")
