"""The admin-edited mapping file: which Okendo events go to which Kustomer hook, and
when a ticket is opened.

Modules, one concept each:

* :mod:`.loader`: YAML with positions, ``${ENV}`` substitution, the load pipeline,
  :func:`check_config`;
* :mod:`.schema`: the file's marshmallow schemas; :mod:`.checks`: trying a loaded
  mapping on the bundled sample events;
* :mod:`.model`: the frozen dataclasses and how overrides merge;
* :mod:`.templates`: the Jinja2 sandbox; :mod:`.ticket`: rendering a conversation;
* :mod:`.negative`: the "is this negative?" rule; :mod:`.planner`: what an event causes;
* :mod:`.store`: hot reload in a running process.

Failure policy, in short: a bad file is a :class:`MappingError` listing every problem
as ``file:line:col: message``, found at load time (templates and filters are run on
sample events then), and never replaces a good mapping in a running process. Planning
and rendering never raise: what cannot be done is planned with a ``problem``.
"""

from bridge.mapping.errors import MappingError, Problem
from bridge.mapping.loader import CheckResult, check_config, load_mapping, load_mapping_text
from bridge.mapping.model import (
    ConversationSettings,
    KustomerTarget,
    Mapping,
    Route,
    StoreSettings,
    TicketRule,
    TicketSettings,
)
from bridge.mapping.planner import CardAction, HookAction, Plan, TicketDecision, plan_event
from bridge.mapping.store import MappingStore
from bridge.mapping.ticket import RenderedTicket, render_ticket

__all__ = [
    "CardAction",
    "CheckResult",
    "ConversationSettings",
    "HookAction",
    "KustomerTarget",
    "Mapping",
    "MappingError",
    "MappingStore",
    "Plan",
    "Problem",
    "RenderedTicket",
    "Route",
    "StoreSettings",
    "TicketDecision",
    "TicketRule",
    "TicketSettings",
    "check_config",
    "load_mapping",
    "load_mapping_text",
    "plan_event",
    "render_ticket",
]
