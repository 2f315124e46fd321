"""stored_settings: settings entered in the console's setup page, encrypted

Revision ID: stored_settings
Revises: mapping_versions
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "stored_settings"
down_revision = "mapping_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_settings",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stored_settings")
