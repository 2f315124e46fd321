"""events, actions, attempts and tickets

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("webhook_id", sa.String(255), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("resource_type", sa.String(64)),
        sa.Column("topic", sa.String(16)),
        sa.Column("subscriber_id", sa.String(64)),
        sa.Column("resource_id", sa.String(128)),
        sa.Column("sequence_number", sa.String(40)),
        sa.Column("sequence_key", sa.String(40)),
        sa.Column("email", sa.String(320)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("errors", sa.JSON()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("next_attempt_at", TS),
        sa.Column("lease_until", TS),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("completed_at", TS),
        sa.UniqueConstraint("webhook_id"),
    )
    op.create_index("ix_events_status_received", "events", ["status", "received_at"])
    op.create_index(
        "ix_events_resource", "events", ["resource_type", "subscriber_id", "resource_id", "sequence_key"]
    )
    op.create_index("ix_events_email", "events", ["email"])

    op.create_table(
        "actions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", sa.JSON()),
        sa.Column("error", sa.Text()),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("event_id", "key", name="uq_actions_event_key"),
    )

    op.create_table(
        "attempts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", BigId, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("action_key", sa.String(200), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("latency_ms", sa.Float()),
        sa.Column("error", sa.Text()),
        sa.Column("started_at", TS, nullable=False),
    )
    op.create_index("ix_attempts_event_id", "attempts", ["event_id"])

    op.create_table(
        "tickets",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("subscriber_id", sa.String(64), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(128), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("conversation_id", sa.String(64)),
        sa.Column("negative", sa.Boolean(), nullable=False),
        sa.Column("lease_until", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("subscriber_id", "resource_type", "resource_id", name="uq_tickets_resource"),
    )


def downgrade() -> None:
    op.drop_table("tickets")
    op.drop_table("attempts")
    op.drop_table("actions")
    op.drop_table("events")
