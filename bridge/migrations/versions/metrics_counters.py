"""metrics: folded counts for /metrics, index on attempts.started_at

Revision ID: metrics_counters
Revises: alert_state
Create Date: 2026-11-29

`metric_counts` holds the counts the worker has folded (bridge.events.counters);
`events.counted_status` and `attempts.counted` say what is already in them, and two
partial indexes find what is not. Nothing is folded here: the worker folds an existing
history in small batches after the upgrade, and /metrics is exact all along.
"""
import sqlalchemy as sa
from alembic import op

revision = "metrics_counters"
down_revision = "alert_state"
branch_labels = None
depends_on = None

UNCOUNTED_EVENTS_SQL = "counted_status IS NULL OR counted_status <> status"
UNCOUNTED_ATTEMPTS_SQL = "counted IS NULL"
FAILED_ACTIONS_SQL = "status = 'failed'"


def upgrade() -> None:
    op.create_table(
        "metric_counts",
        sa.Column("family", sa.String(16), primary_key=True),
        sa.Column("label1", sa.String(200), primary_key=True),
        sa.Column("label2", sa.String(64), primary_key=True),
        sa.Column("value", sa.Float(), nullable=False),
    )
    op.add_column("events", sa.Column("counted_status", sa.String(16)))  # nullable: no table rewrite
    op.add_column("attempts", sa.Column("counted", sa.Boolean()))
    op.create_index("ix_events_uncounted", "events", ["resource_type", "status", "counted_status"], sqlite_where=sa.text(UNCOUNTED_EVENTS_SQL),
                    postgresql_where=sa.text(UNCOUNTED_EVENTS_SQL))
    op.create_index("ix_attempts_uncounted", "attempts", ["action_key", "status_code", "method", "latency_ms"], sqlite_where=sa.text(UNCOUNTED_ATTEMPTS_SQL),
                    postgresql_where=sa.text(UNCOUNTED_ATTEMPTS_SQL))
    op.create_index("ix_attempts_started_at", "attempts", ["started_at"])
    op.create_index("ix_actions_failed", "actions", ["key"], sqlite_where=sa.text(FAILED_ACTIONS_SQL),
                    postgresql_where=sa.text(FAILED_ACTIONS_SQL))


def downgrade() -> None:
    op.drop_index("ix_actions_failed", table_name="actions")
    op.drop_index("ix_attempts_started_at", table_name="attempts")
    op.drop_index("ix_attempts_uncounted", table_name="attempts")
    op.drop_index("ix_events_uncounted", table_name="events")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("counted")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("counted_status")
    op.drop_table("metric_counts")
