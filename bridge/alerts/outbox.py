"""The alert outbox: messages waiting to be sent, one delivery row per channel.

Messages are written in the transaction that decided them (so a crash cannot send
without recording, or record without sending) and sent later by whichever worker
claims each delivery. Claiming is one conditional UPDATE on a pending, due, unleased
row: of several workers, exactly one sends it.

Failure policy: a failed send is recorded on the row and tried again on `BACKOFF`
(30 s, 2 min, 10 min, 30 min, 1 h, 2 h); after the last it is `failed` and logged.
A worker that dies while sending leaves a lease that expires; the message is then
sent again (at least once, like events).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import selectinload

from bridge.alerts.tables import AlertDelivery, AlertMessage, DeliveryStatus
from bridge.events.models import utcnow

BACKOFF = (30, 120, 600, 1800, 3600, 7200)
SEND_LEASE = 120  # seconds a worker owns a delivery it is sending
KEEP_DAYS = 30


def add_message(session, condition: str, kind: str, subject: str, text: str, channels) -> AlertMessage:
    message = AlertMessage(condition=condition, kind=kind, subject=subject[:300], text=text)
    message.deliveries = [AlertDelivery(channel=channel, status=DeliveryStatus.PENDING, attempts=0) for channel in channels]
    session.add(message)
    session.flush()
    return message


def due_ids(session, now: datetime | None = None, limit: int = 20) -> list[int]:
    now = now or utcnow()
    return list(session.execute(
        select(AlertDelivery.id).where(
            AlertDelivery.status == DeliveryStatus.PENDING,
            or_(AlertDelivery.next_attempt_at.is_(None), AlertDelivery.next_attempt_at <= now),
            or_(AlertDelivery.lease_until.is_(None), AlertDelivery.lease_until < now),
        ).order_by(AlertDelivery.id).limit(limit)
    ).scalars())


def claim(session, delivery_id: int, now: datetime | None = None) -> bool:
    """Take one delivery for sending; False when another worker has it or it is done."""
    now = now or utcnow()
    result = session.execute(
        update(AlertDelivery).where(
            AlertDelivery.id == delivery_id, AlertDelivery.status == DeliveryStatus.PENDING,
            or_(AlertDelivery.lease_until.is_(None), AlertDelivery.lease_until < now),
        ).values(lease_until=now + timedelta(seconds=SEND_LEASE), attempts=AlertDelivery.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def delivery(session, delivery_id: int) -> AlertDelivery | None:
    """One delivery row, with its message reachable as `.message`."""
    return session.get(AlertDelivery, delivery_id)


def mark_sent(session, delivery_id: int) -> None:
    session.execute(update(AlertDelivery).where(AlertDelivery.id == delivery_id)
                    .values(status=DeliveryStatus.SENT, sent_at=utcnow(), lease_until=None, last_error=None))


def mark_failed(session, delivery_id: int, attempts: int, error: str) -> DeliveryStatus:
    """Schedule the next try, or give up; returns the new status."""
    if attempts > len(BACKOFF):
        values = dict(status=DeliveryStatus.FAILED, lease_until=None, last_error=error)
    else:
        values = dict(lease_until=None, last_error=error,
                      next_attempt_at=utcnow() + timedelta(seconds=BACKOFF[attempts - 1]))
    session.execute(update(AlertDelivery).where(AlertDelivery.id == delivery_id).values(**values))
    return values.get("status", DeliveryStatus.PENDING)


def recent(session, limit: int = 30) -> list[AlertMessage]:
    return list(session.execute(select(AlertMessage).options(selectinload(AlertMessage.deliveries))
                                .order_by(AlertMessage.id.desc()).limit(limit)).scalars())


def prune(session, now: datetime | None = None) -> None:
    """Forget messages older than KEEP_DAYS (their deliveries go with them)."""
    cutoff = (now or utcnow()) - timedelta(days=KEEP_DAYS)
    old = select(AlertMessage.id).where(AlertMessage.created_at < cutoff)
    session.execute(delete(AlertDelivery).where(and_(AlertDelivery.message_id.in_(old))))
    session.execute(delete(AlertMessage).where(AlertMessage.created_at < cutoff))
