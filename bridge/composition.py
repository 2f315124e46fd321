"""The composition root: the one place that builds the parts of a process and wires them.

Settings, database, queue, live mapping, Kustomer client pool, ticket and timeline
services and the processor are made here, each once, and handed to each other (the CLI's
read-only commands open a bare `Database` and nothing more). Both the web app (`bridge.app`) and the worker
(`bridge.delivery.worker`) build one `Runtime`. Nothing here talks to Kustomer or reads
the mapping file until it is first needed. Failure policy: a bad setting raises here, at
start-up, before the process takes traffic.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from bridge.config import Settings
from bridge.delivery.processor import Processor
from bridge.delivery.queue import Dispatcher
from bridge.delivery.tickets import TicketService
from bridge.events.db import Database
from bridge.kustomer.client_pool import ClientPool
from bridge.setup.live import LiveMappings, LiveSettings, live_settings_and_mappings
from bridge.timeline.service import TimelineService


@dataclass
class Runtime:
    settings: Settings
    db: Database
    dispatcher: Dispatcher
    processor: Processor
    mappings: LiveMappings  # the mapping store; reloads when a setting its ${VAR}s name changes
    live: LiveSettings | None = None  # environment, then the console's settings

    def enqueue(self, event_id: int, delay: float | None = None) -> bool:
        return self.dispatcher.enqueue(event_id, delay)

    def close(self) -> None:
        self.mappings.close()
        self.processor.heartbeat.stop()
        self.processor.clients.close()
        self.db.dispose()


def build_runtime(settings: Settings | None = None, *, metrics=None) -> Runtime:
    settings = settings or Settings.from_env()
    db = Database(settings.database_url)
    live, mappings = live_settings_and_mappings(settings, db)
    _say_queue_url_is_not_needed(settings)
    dispatcher = Dispatcher(db)
    clients = ClientPool(settings)
    processor = Processor(
        db=db, settings=settings, mappings=mappings, clients=clients,
        enqueue=dispatcher.enqueue, tickets=TicketService(db=db, settings=settings, clients=clients), metrics=metrics,
        timeline=TimelineService(clients=clients),
    )
    return Runtime(settings=settings, db=db, dispatcher=dispatcher, processor=processor, mappings=mappings,
                   live=live)


def _say_queue_url_is_not_needed(settings: Settings) -> None:
    """REDIS_URL/QUEUE_URL named the old queue's backend; scripts still set them (design.md),
    so they are accepted, and ignored: the events table is the queue now."""
    if settings.queue_url:
        logging.getLogger(__name__).warning(
            "QUEUE_URL/REDIS_URL is set but no longer needed: the events table is the queue "
            "(docs/design-notes.md); the value is ignored")
