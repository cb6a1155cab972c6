"""API tokens get scopes, an expiry and the token that created them.

Tokens made before this revision keep every scope (what they could do before) and expire 90 days
after the upgrade.

Revision ID: 0002
Revises: 0001
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    expiry = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=90)
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column(
                "scopes", sa.String(64), nullable=False, server_default="read,export,ingest,admin"
            )
        )
        batch.add_column(sa.Column("expires_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("parent_id", sa.Integer, nullable=True))
        batch.create_foreign_key(
            "fk_api_tokens_parent_id", "api_tokens", ["parent_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_api_tokens_parent_id", ["parent_id"])
    tokens = sa.table("api_tokens", sa.column("expires_at", sa.DateTime))
    op.execute(tokens.update().values(expires_at=expiry))
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("expires_at", existing_type=sa.DateTime, nullable=False)
        batch.alter_column("scopes", existing_type=sa.String(64), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index("ix_api_tokens_parent_id")
        batch.drop_constraint("fk_api_tokens_parent_id", type_="foreignkey")
        batch.drop_column("parent_id")
        batch.drop_column("expires_at")
        batch.drop_column("scopes")
