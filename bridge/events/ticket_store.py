"""The `tickets` table: one row per Okendo resource, the lock on opening its conversation.

A row is inserted `creating`, with a lease, by the worker that will create the Kustomer
conversation; the UNIQUE (subscriber, resource type, resource id) makes that insert the
lock. It turns `open`, with the conversation's id, once the conversation exists.
`bridge.delivery.tickets` decides when; these are the statements.

Failure policy: database errors propagate, and so does the IntegrityError of a second
`insert_creating` for the same resource (the caller reads it as "another worker was first").
The caller opens the session and fences it with the round's lease.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bridge.events.models import Ticket, TicketState


def find(session: Session, *, subscriber_id: str, resource_type: str, resource_id: str) -> Ticket | None:
    """The resource's row, if any worker has started on its conversation."""
    return session.execute(select(Ticket).where(
        Ticket.subscriber_id == subscriber_id, Ticket.resource_type == resource_type,
        Ticket.resource_id == resource_id)).scalar_one_or_none()


def insert_creating(session: Session, *, subscriber_id: str, resource_type: str, resource_id: str,
                    external_id: str, lease_until: datetime) -> Ticket:
    """Take the lock: a new `creating` row (IntegrityError at commit when one exists)."""
    ticket = Ticket(subscriber_id=subscriber_id, resource_type=resource_type, resource_id=resource_id,
                    external_id=external_id, state=TicketState.CREATING, lease_until=lease_until)
    session.add(ticket)
    return ticket


def take_over_expired(session: Session, ticket_id: int, *, now: datetime, lease_until: datetime) -> bool:
    """Take a `creating` row whose lease ran out (its worker died); False when it is still held
    or no longer `creating`."""
    return session.execute(update(Ticket).where(
        Ticket.id == ticket_id, Ticket.state == TicketState.CREATING, Ticket.lease_until < now,
    ).values(lease_until=lease_until)).rowcount == 1


def extend_creating(session: Session, ticket_ids: Iterable[int], *, lease_until: datetime) -> None:
    """Extend the lock on these rows while they are still `creating` (the lease of the round
    opening their conversations was renewed: `bridge.delivery.lease`)."""
    session.execute(update(Ticket).where(Ticket.id.in_(ticket_ids), Ticket.state == TicketState.CREATING)
                    .values(lease_until=lease_until).execution_options(synchronize_session=False))


def mark_open(session: Session, ticket_id: int, *, conversation_id: str, customer_id: str) -> Ticket:
    """The conversation exists: record it and release the lock."""
    session.execute(update(Ticket).where(Ticket.id == ticket_id).values(
        state=TicketState.OPEN, conversation_id=conversation_id, customer_id=customer_id, lease_until=None))
    return session.get(Ticket, ticket_id)
