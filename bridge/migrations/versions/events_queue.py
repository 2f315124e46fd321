"""events: the holder's lease token (fencing), and an index of the events still to run

Revision ID: events_queue
Revises: stored_settings
Create Date: 2026-11-29

`lease_token` names the worker round that holds an event's `processing` lease: every write
of that round checks it, so a worker that lost its lease changes nothing (issue 13, part 1).
`ix_events_unfinished` is partial: it holds only the events not yet final, ordered by when
each is due (`next_attempt_at`, which a pending event now gets at ingest), so finding work
costs the same with ten million delivered events as with none.
"""
import sqlalchemy as sa
from alembic import op

revision = "events_queue"
down_revision = "stored_settings"
branch_labels = None
depends_on = None

UNFINISHED = "status IN ('pending', 'processing', 'retrying')"


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("lease_token", sa.String(32)))
    op.execute("UPDATE events SET next_attempt_at = received_at "
               "WHERE status = 'pending' AND next_attempt_at IS NULL")
    op.create_index("ix_events_unfinished", "events", ["next_attempt_at", "id"],
                    sqlite_where=sa.text(UNFINISHED), postgresql_where=sa.text(UNFINISHED))


def downgrade() -> None:
    op.drop_index("ix_events_unfinished", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("lease_token")
