"""Admin-edited Jinja2: ticket templates and route filters, in a sandbox.

Everything an admin writes in the mapping file is compiled by one
:class:`jinja2.sandbox.ImmutableSandboxedEnvironment`: templates can read the event but
not reach Python internals (``{{ ''.__class__ }}``, ``{{ cycler.__init__.__globals__ }}``)
and cannot change what they are given (``{{ resource.clear() }}``).

Failure policy:

* Unsafe access raises :class:`jinja2.exceptions.SecurityError` at once. Jinja's own
  sandbox would return an "undefined" value that renders as an empty string, which
  hides the attempt; raising makes it a config error at check time and a logged
  fallback at delivery time (see :mod:`bridge.mapping.ticket`).
* Missing data is not an error: a deleted review carries no rating, an optional object
  may be null. ``{{ review.reviewer.name }}`` renders empty instead of failing
  (``ChainableUndefined``). Misspelt *top-level* names are caught when the file is
  checked instead (:func:`unknown_names`), so a typo still cannot pass silently.
* Compiling raises :class:`jinja2.TemplateSyntaxError`; callers turn it into a problem
  with the template's line.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable

from jinja2 import ChainableUndefined, Template, meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bridge.mapping import limits
from bridge.mapping.feedback import answer_text, answers_of, nps_of
from bridge.okendo.schemas import customer_name_of, email_of, RESOURCE_SCHEMAS

__all__ = [
    "DEFAULT_NOTE",
    "DEFAULT_SUBJECT",
    "TEMPLATE_NAMES",
    "SecurityError",
    "compile_template",
    "compile_when",
    "evaluate_when",
    "render_template",
    "stars",
    "template_context",
    "unknown_names",
    "when_context",
]


class _StrictSandbox(limits.BoundedSandboxMixin, ImmutableSandboxedEnvironment):
    """The immutable sandbox, raising on unsafe access instead of hiding it, with bounds
    on size, loops and output (:mod:`bridge.mapping.limits`)."""

    def unsafe_undefined(self, obj: Any, attribute: str):
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )


def stars(rating: Any, out_of: int = 5) -> str:
    """``stars(2)`` -> ``★★☆☆☆``; empty for a missing or non-numeric rating."""
    if isinstance(rating, bool) or not isinstance(rating, (int, float)):
        return ""
    filled = max(0, min(out_of, round(rating)))
    return "★" * filled + "☆" * (out_of - filled)


SANDBOX = _StrictSandbox(
    undefined=ChainableUndefined,
    autoescape=False,  # plain-text notes and JSON values, not HTML
    # A line holding only a {% %} tag leaves no blank line behind: templates can be laid
    # out readably in YAML.
    trim_blocks=True,
    lstrip_blocks=True,
)
SANDBOX.globals.pop("lipsum", None)  # nothing an admin needs; one less callable exposed
SANDBOX.globals["stars"] = stars
SANDBOX.filters["answer_text"] = answer_text
SANDBOX.filters["stars"] = stars
SANDBOX.filters = {name: limits.bounded_filter(name, func) for name, func in SANDBOX.filters.items()}
SANDBOX.globals[limits.COUNTED] = limits.counted  # every {% for %} iterates through it

# Names a ticket template may use (see template_context); anything else is a typo.
TEMPLATE_NAMES = frozenset({
    "event", "resource", "review", "survey", "customer", "decision", "store",
    "answers", "nps", "media", "card",
})


@lru_cache(maxsize=512)
def compile_template(source: str) -> Template:
    """The compiled template (cached by source: the mapping reloads often, its
    templates rarely change). Raises TemplateSyntaxError."""
    return SANDBOX.from_string(source)


@lru_cache(maxsize=512)
def compile_when(source: str):
    """A route filter compiled as a Jinja2 *expression*. Raises TemplateSyntaxError."""
    return SANDBOX.compile_expression(source, undefined_to_none=True)


def unknown_names(source: str, known: Iterable[str], *, expression: bool = False) -> list[str]:
    """Top-level names ``source`` reads that are neither in ``known`` nor globals."""
    text = "{{ (" + source + ") }}" if expression else source
    used = meta.find_undeclared_variables(SANDBOX.parse(text))
    allowed = set(known) | set(SANDBOX.globals)
    return sorted(name for name in used if name not in allowed)


def render_template(source: str, context: dict) -> str:
    """Render; raises whatever the template raises (SecurityError included)."""
    return limits.render_bounded(compile_template(source), context)


# --------------------------------------------------------------------------- contexts


def template_context(event, *, clause: str = "", negative: bool = False,
                     store_name: str | None = None, card: dict | None = None) -> dict:
    """What a ticket template sees. ``event`` is a ValidatedEvent.

    ``review`` / ``survey`` are the resource when it is of that type, else None, so
    ``{% if review %}`` picks the branch. Every top-level field the resource's schema
    declares is present (None when missing).
    """
    resource = _with_declared_fields(event)
    nps = nps_of(resource)
    return {
        "event": event.summary(),
        "resource": resource,
        "review": resource if event.resource_type == "review" else None,
        "survey": resource if event.resource_type == "survey_response" else None,
        "customer": {"email": email_of(event), "name": customer_name_of(event)},
        "decision": {"clause": clause, "negative": negative},
        "store": {"id": event.subscriber_id, "name": store_name},
        "answers": [answer.as_dict() for answer in answers_of(resource)],
        "nps": nps.as_dict() if nps else None,
        "media": _media(resource),
        # The event's timeline card (id, klass, external_id, customer_id, url), or None.
        "card": card,
    }


def _media(resource: dict) -> list[dict]:
    items = resource.get("media")
    if not isinstance(items, list):
        return []
    media = []
    for item in items:
        if not isinstance(item, dict):
            continue
        url = item.get("fullSizeUrl") or item.get("largeUrl") or item.get("thumbnailUrl")
        if url:
            media.append({"type": item.get("type") or "media", "url": url,
                          "thumbnail_url": item.get("thumbnailUrl"),
                          "hidden": bool(item.get("isHidden"))})
    return media


def resource_field_names(resource_types: Iterable[str]) -> set[str]:
    """Field names the schemas declare for these resource types (for filter checks)."""
    names: set[str] = set()
    for resource_type in resource_types:
        names.update(_declared_field_names(resource_type))
    return names


@lru_cache(maxsize=64)
def _declared_field_names(resource_type: str) -> frozenset[str]:
    schema = RESOURCE_SCHEMAS.get(resource_type)
    return frozenset(schema().fields) if schema is not None else frozenset()


def _with_declared_fields(event) -> dict:
    """The resource with every field its schema declares present (None when the event
    lacks it), so ``rating is none`` holds on a delete instead of reading "undefined",
    which ``is none`` would not match."""
    resource = event.resource if isinstance(event.resource, dict) else {}
    view: dict[str, Any] = {name: None for name in resource_field_names([event.resource_type])}
    view.update(resource)
    return view


WHEN_NAMES = frozenset({"event", "resource"})


def when_context(event) -> dict:
    """What a route filter sees: the resource's fields as top-level names (every field
    the schema declares is present, None when the event lacks it, so ``rating is none``
    works on a delete), plus ``event`` and ``resource``."""
    resource = _with_declared_fields(event)
    context: dict[str, Any] = dict(resource)
    context["resource"] = resource
    context["event"] = {
        "name": f"{event.resource_type}.{event.topic}",
        "resource_type": event.resource_type,
        "topic": event.topic,
        "sequence_number": event.sequence_number,
        "subscriber_id": event.subscriber_id,
    }
    return context


def evaluate_when(source: str, event) -> bool:
    """Whether the filter holds for ``event``; raises what the expression raises."""
    with limits.render_budget():
        return bool(compile_when(source)(**when_context(event)))


# ------------------------------------------------------------------ built-in templates
# Used when the mapping file leaves them out, and as the fallback when an admin's
# template fails at delivery time. config/mapping.yaml ships the same text, so that an
# admin starts from it; a unit test keeps the two in step.

# Line breaks and runs of spaces collapse to one space when a subject is rendered.
DEFAULT_SUBJECT = """\
{% if review %}
  {{ review.rating ~ '★' if review.rating }} review
  {{ 'of ' ~ review.productName if review.productName }}
  {{ 'by ' ~ (customer.name or customer.email) if customer.name or customer.email }}
{% elif survey %}
  {{ 'NPS ' ~ nps.category ~ ' (' ~ nps.score ~ '/10)' if nps else 'Survey response' }}
  {{ 'on ' ~ survey.surveyName if survey.surveyName }}
  {{ 'from ' ~ customer.email if customer.email }}
{% else %}
  Okendo {{ event.name }}
{% endif %}
"""

DEFAULT_NOTE = """\
Okendo {{ event.name }} (sequence {{ event.sequence_number }})
Why this ticket: {{ decision.clause }}
{% if review and event.topic == 'delete' %}

The review was deleted in Okendo: its rating, text and reviewer are no longer available.
Product: {{ review.productName or review.productId or '(unknown)' }}
Review ID: {{ review.reviewId }}
{% elif review %}

Rating: {{ stars(review.rating) }} {{ review.rating if review.rating is not none else '(none)' }}/5
Title: {{ review.title or '(no title)' }}
Review:
{{ review.body or '(no text)' }}

Product: {{ review.productName or '(unknown)' }}{{ (' / ' ~ review.variantName) if review.variantName }}{{ (' [' ~ review.productId ~ ']') if review.productId }}
Order: {{ review.order.orderNumber or '(none)' }}
Reviewer: {{ customer.name or '(no name)' }} <{{ customer.email or 'no email' }}>{{ (', ' ~ review.reviewer.verifiedStatus) if review.reviewer.verifiedStatus }}
Written: {{ review.dateCreated or '(unknown)' }}
Review status: {{ review.status or '(unknown)' }}, sentiment: {{ review.sentiment or '(unknown)' }}, recommends: {{ ('yes' if review.isRecommended else 'no') if review.isRecommended is not none else '(unknown)' }}
{% if media %}
Media:
{% for item in media %}
- {{ item.type }}: {{ item.url }}{{ ' (hidden)' if item.hidden }}
{% endfor %}
{% endif %}
{% if review.reply.rawBody %}
Store reply: {{ review.reply.rawBody }}
{% endif %}
Review ID: {{ review.reviewId }}
{% elif survey %}

Survey: {{ survey.surveyName or survey.surveyId or '(unknown)' }}
Customer: {{ (customer.name ~ ' ') if customer.name }}<{{ customer.email or 'no email' }}>
Order: {{ survey.order.remoteOrderId or '(none)' }}
{% if nps %}
NPS: {{ nps.score if nps.score is not none else '(no score)' }} ({{ nps.category or 'no category' }})
{% endif %}

Answers:
{% for answer in answers %}
{{ loop.index }}. {{ answer.question or answer.id or '(question)' }}
   {{ answer.answer or '(no answer)' }}{{ (' [' ~ answer.nps_category ~ ']') if answer.nps_category }}
{% else %}
(no answers)
{% endfor %}

Survey response ID: {{ survey.surveyResponseId }}
{% endif %}
"""
