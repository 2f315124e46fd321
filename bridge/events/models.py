"""The event store's tables (SQLAlchemy 2 declarative models).

The `events` row is the truth about a webhook: the queue only ever says "look at
event N now". `actions` records what has been done for an event, so a retry or a
replay skips it; `attempts` is the delivery log an admin reads; `tickets` remembers
which Kustomer conversation belongs to which Okendo resource, so no second one is
ever opened for it. Schema changes go through Alembic (`bridge/migrations/`).
"""
from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum, nonmember

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL wants a bigint.
BigId = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL keeps the zone; SQLite stores text and hands back naive datetimes,
    which cannot be compared with aware ones. This makes both behave the same.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    pass


class EventStatus(StrEnum):
    """Statuses of design.md section 5; scripts outside the project rely on these names.

    A `str` enum (like rq's JobStatus): each member equals, prints and is stored as its
    value, so `event.status == EventStatus.DEAD` holds for the plain string read back."""

    PENDING = "pending"
    PROCESSING = "processing"
    DELIVERED = "delivered"
    SKIPPED = "skipped"
    RETRYING = "retrying"
    DEAD = "dead"
    INVALID = "invalid"

    # Groups of the values above (nonmember: tuples of plain strings, not statuses).
    ALL = nonmember((PENDING, PROCESSING, DELIVERED, SKIPPED, RETRYING, DEAD, INVALID))
    # Statuses a worker may pick up; `processing` only once its lease has expired.
    RUNNABLE = nonmember((PENDING, RETRYING))
    # Still to be delivered: the queue's partial index holds exactly these (UNFINISHED_SQL).
    UNFINISHED = nonmember((PENDING, PROCESSING, RETRYING))
    FINAL = nonmember((DELIVERED, SKIPPED, DEAD, INVALID))


class ActionStatus(StrEnum):
    """What is recorded of one action (a hook POST, a ticket step, a card)."""

    DONE = "done"
    FAILED = "failed"  # permanently: only a replay tries it again
    SENDING = "sending"  # a ticket step whose request may have reached Kustomer; not known done


class TicketState(StrEnum):
    """A ticket row: `creating` while one worker holds the right to open the conversation."""

    CREATING = "creating"
    OPEN = "open"


# Partial-index conditions, written from the enums; the text must stay exactly what the
# migrations created (SQLite matches a partial index's WHERE textually).
UNFINISHED_SQL = "status IN ({})".format(", ".join(f"'{status}'" for status in EventStatus.UNFINISHED))
# Events whose status is not (yet) in the folded metric counts (bridge.events.counters):
# new, unfinished, or changed since they were folded (a replay). Kept small by the worker.
UNCOUNTED_EVENTS_SQL = "counted_status IS NULL OR counted_status <> status"
UNCOUNTED_ATTEMPTS_SQL = "counted IS NULL"
FAILED_ACTIONS_SQL = f"status = '{ActionStatus.FAILED}'"


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(String(255), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    resource_type: Mapped[str | None] = mapped_column(String(64))
    topic: Mapped[str | None] = mapped_column(String(16))
    subscriber_id: Mapped[str | None] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(128))
    sequence_number: Mapped[str | None] = mapped_column(String(40))
    # Zero-padded copy of sequence_number, so the database can order it as text.
    sequence_key: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.PENDING)
    errors: Mapped[dict | list | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Which worker round holds the `processing` lease; its writes are fenced by it (bridge.delivery.lease).
    lease_token: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The status this event is counted under in metric_counts; NULL until the worker folds it.
    counted_status: Mapped[str | None] = mapped_column(String(16))

    actions: Mapped[list["Action"]] = relationship(back_populates="event", order_by="Action.id")
    delivery_attempts: Mapped[list["Attempt"]] = relationship(back_populates="event", order_by="Attempt.id")

    __table_args__ = (
        # The overview's windows (bridge.events.overview) read only these columns, so the
        # index alone answers them: no table page is read, at any history size.
        Index("ix_events_window", "status", "received_at", "resource_type", "completed_at"),
        Index("ix_events_resource", "resource_type", "subscriber_id", "resource_id", "sequence_key"),
        Index("ix_events_email", "email"),
        # Partial: only events still to run, by when each is due, so finding work stays cheap
        # as history grows (bridge.delivery.queue).
        Index("ix_events_unfinished", "next_attempt_at", "id",
              sqlite_where=text(UNFINISHED_SQL), postgresql_where=text(UNFINISHED_SQL)),
        # Partial: only events not yet in the metric counts, so /metrics reads a few rows.
        Index("ix_events_uncounted", "resource_type", "status", "counted_status",
              sqlite_where=text(UNCOUNTED_EVENTS_SQL), postgresql_where=text(UNCOUNTED_EVENTS_SQL)),
    )

    @property
    def event_name(self) -> str | None:
        if self.resource_type and self.topic:
            return f"{self.resource_type}.{self.topic}"
        return None


class Action(Base):
    """One thing an event causes (a hook POST, a ticket), recorded once it is done."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # done | failed
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    event: Mapped[Event] = relationship(back_populates="actions")

    __table_args__ = (
        UniqueConstraint("event_id", "key", name="uq_actions_event_key"),
        # Partial: /metrics counts refused ticket steps without reading every action.
        Index("ix_actions_failed", "key", sqlite_where=text(FAILED_ACTIONS_SQL),
              postgresql_where=text(FAILED_ACTIONS_SQL)),
    )


class Attempt(Base):
    """One HTTP call to Kustomer, successful or not: the delivery log."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    action_key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(String(500))  # redacted: no hook hash, no key
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    counted: Mapped[bool | None] = mapped_column(Boolean)  # in metric_counts; NULL until folded

    event: Mapped[Event] = relationship(back_populates="delivery_attempts")

    __table_args__ = (
        # The overview's windows: every column they read, so the index alone answers them.
        Index("ix_attempts_window", "started_at", "status_code", "method"),
        Index("ix_attempts_uncounted", "action_key", "status_code", "method", "latency_ms",
              sqlite_where=text(UNCOUNTED_ATTEMPTS_SQL), postgresql_where=text(UNCOUNTED_ATTEMPTS_SQL)),
    )


class MetricCount(Base):
    """One folded metric count (bridge.events.counters): family, two labels, a value."""

    __tablename__ = "metric_counts"

    family: Mapped[str] = mapped_column(String(16), primary_key=True)
    label1: Mapped[str] = mapped_column(String(200), primary_key=True)
    label2: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float, default=0)


class Ticket(Base):
    """The Kustomer conversation opened for one Okendo resource (review, survey response).

    The unique key is what makes "one conversation per review" hold across workers:
    the worker that inserts the row in state `creating` is the only one allowed to
    create the conversation; the others wait for it (or take over after its lease).
    """

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subscriber_id: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(128))
    external_id: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default=TicketState.CREATING)
    customer_id: Mapped[str | None] = mapped_column(String(64))
    conversation_id: Mapped[str | None] = mapped_column(String(64))
    negative: Mapped[bool] = mapped_column(Boolean, default=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("subscriber_id", "resource_type", "resource_id", name="uq_tickets_resource"),
    )


class StoredSetting(Base):
    """A setting entered in the console's setup page (`bridge.setup`), encrypted with a key
    derived from SECRET_KEY. The environment, when it sets the same name, wins."""

    __tablename__ = "stored_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)  # a Fernet token
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False)
