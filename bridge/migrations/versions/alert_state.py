"""alerts: condition state, outbox, signature-refusal counts

Revision ID: alert_state
Revises: events_queue
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "alert_state"
down_revision = "events_queue"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.Column("started_at", TS),
        sa.Column("last_sent_at", TS),
        sa.Column("covered_until", TS),
        sa.Column("episode_count", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text()),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "alert_messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("condition", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_alert_messages_created_at", "alert_messages", ["created_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("message_id", BigId, sa.ForeignKey("alert_messages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS),
        sa.Column("lease_until", TS),
        sa.Column("last_error", sa.Text()),
        sa.Column("sent_at", TS),
    )
    op.create_index("ix_alert_deliveries_message_id", "alert_deliveries", ["message_id"])
    op.create_index("ix_alert_deliveries_status_next", "alert_deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "signature_refusals",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("first_at", TS, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
    )
    op.create_index("ix_signature_refusals_recorded_at", "signature_refusals", ["recorded_at"])


def downgrade() -> None:
    op.drop_table("signature_refusals")
    op.drop_table("alert_deliveries")
    op.drop_table("alert_messages")
    op.drop_table("alert_state")
