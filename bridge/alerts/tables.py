"""The alerts' tables: one state row per condition, an outbox, and signature-refusal counts.

- `alert_state`: what the team was last told about a condition. Every change is a
  compare-and-set on `version`, so when several workers evaluate the same condition
  at once exactly one of them records the transition and queues its message.
- `alert_messages` + `alert_deliveries`: the outbox. A message is written in the same
  transaction as the state change that caused it; each configured channel gets a
  delivery row that workers claim with a conditional UPDATE (a lease), send, and mark
  sent or schedule again. The console's "send a test alert" button only inserts here.
- `signature_refusals`: one row per web process per flush (at most every few seconds),
  never one per refused request (`bridge/alerts/refusals.py`).
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bridge.events.models import Base, BigId, UTCDateTime, utcnow


class AlertState(Base):
    __tablename__ = "alert_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    notified: Mapped[bool] = mapped_column(Boolean, default=False)  # a message went out this episode
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Items up to this moment have been reported (dead events, invalid events, ...);
    # for the digest, when the last one was sent.
    covered_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    episode_count: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class AlertMessage(Base):
    __tablename__ = "alert_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    condition: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # firing | update | reminder | cleared | digest | test
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    deliveries: Mapped[list["AlertDelivery"]] = relationship(back_populates="message", order_by="AlertDelivery.id")


class DeliveryStatus(StrEnum):
    """Where one channel's copy of an alert is (a str enum, like `EventStatus`)."""

    PENDING = "pending"  # to send, now or at `next_attempt_at`
    SENT = "sent"
    FAILED = "failed"  # its tries ran out; kept for the console's alerts page


class AlertDelivery(Base):
    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("alert_messages.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # chat | email
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    message: Mapped[AlertMessage] = relationship(back_populates="deliveries")

    __table_args__ = (Index("ix_alert_deliveries_status_next", "status", "next_attempt_at"),)


class SignatureRefusal(Base):
    __tablename__ = "signature_refusals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[dict] = mapped_column(JSON, default=dict)  # reason -> count
