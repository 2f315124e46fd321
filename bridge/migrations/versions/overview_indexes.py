"""overview: covering indexes for the console's windows

Revision ID: overview_indexes
Revises: metrics_counters
Create Date: 2026-11-29

The overview counts the last hour and day by status and type, charts them per hour with
their delivery latency, and counts the window's Kustomer calls (bridge.events.overview).
`ix_events_window` (status, received_at, resource_type, completed_at) and
`ix_attempts_window` (started_at, status_code, method) hold every column those queries
read, so they are answered from the index alone instead of one table page per event
(PostgreSQL, 1,000,000 events: 451 ms -> see docs/benchmarks.md). They replace the
(status, received_at) and (started_at) indexes, whose leading columns they keep.
"""
from alembic import op

revision = "overview_indexes"
down_revision = "metrics_counters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_window", "events", ["status", "received_at", "resource_type", "completed_at"])
    op.drop_index("ix_events_status_received", table_name="events")
    op.create_index("ix_attempts_window", "attempts", ["started_at", "status_code", "method"])
    op.drop_index("ix_attempts_started_at", table_name="attempts")


def downgrade() -> None:
    op.create_index("ix_attempts_started_at", "attempts", ["started_at"])
    op.drop_index("ix_attempts_window", table_name="attempts")
    op.create_index("ix_events_status_received", "events", ["status", "received_at"])
    op.drop_index("ix_events_window", table_name="events")
