"""mapping versions, the console's draft and the mapping audit list

Revision ID: mapping_versions
Revises: 0001
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "mapping_versions"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mapping_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("yaml_text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("replaces_id", sa.Integer(), sa.ForeignKey("mapping_versions.id")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("rolled_back_to", sa.Integer()),
    )
    op.create_table(
        "mapping_drafts",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("yaml_text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("base_version", sa.Integer()),
    )
    op.create_table(
        "mapping_audit",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("version_id", sa.Integer()),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("problems", sa.JSON()),
    )
    op.create_index("ix_mapping_audit_at", "mapping_audit", ["at"])
    op.create_index("ix_mapping_audit_action", "mapping_audit", ["action"])


def downgrade() -> None:
    op.drop_table("mapping_audit")
    op.drop_table("mapping_drafts")
    op.drop_table("mapping_versions")
