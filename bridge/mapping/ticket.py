"""Rendering the conversation and note a negative event opens in Kustomer.

Failure policy: :func:`render_ticket` never raises. Templates were rendered against the
bundled samples when the mapping was loaded, so a failure here means real data the
samples did not foresee (or an escape attempt the loader somehow missed). Then the
built-in default template is used instead and a warning says so: a support ticket with
the default wording beats no ticket. A custom attribute whose value cannot be rendered
or converted to its type is left out, with a warning. The note is cut to Kustomer's
10,240 characters with a visible marker; a Str or Txt attribute to 1,024 characters,
and each such cut is listed in ``RenderedTicket.cut`` (recorded with the ticket).

:func:`ticket_render_errors` runs the same rendering and returns every failure, for the
loader's sample checks: there a failure is a config error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bridge.kustomer.note_limit import NOTE_BODY_LIMIT, truncate_note
from bridge.mapping import templates
from bridge.mapping.model import TicketSettings

# Kustomer's limit for a note body; a rendered note is cut to it by `truncate_note`
# (bridge.kustomer.note_limit, the one place both the limit and the marker live).
NOTE_LIMIT = NOTE_BODY_LIMIT
TEXT_ATTRIBUTE_LIMIT = 1_024  # Kustomer's limit for a Str or Txt custom attribute, in characters


@dataclass(frozen=True)
class RenderedTicket:
    """Everything the ticket service sends to Kustomer for one conversation."""

    subject: str
    note: str
    priority: int
    status: str
    tags: tuple[str, ...]
    team_ids: tuple[str, ...]
    queue_id: str | None
    custom: dict
    warnings: tuple[str, ...] = ()
    cut: tuple[str, ...] = ()  # what was shortened to fit Kustomer's limits, in words

    def as_dict(self) -> dict:
        return {"subject": self.subject, "priority": self.priority, "status": self.status,
                "tags": list(self.tags), "team_ids": list(self.team_ids),
                "queue_id": self.queue_id, "custom": dict(self.custom)}


class TicketRenderError(Exception):
    """A ticket template failed; ``part`` is ``subject``, ``note`` or ``custom.<name>``."""

    def __init__(self, part: str, error: Exception):
        self.part = part
        self.error = error
        super().__init__(f"{part}: {type(error).__name__}: {error}")


def render_ticket(settings: TicketSettings, event, decision, *, store_name: str | None = None,
                  card: dict | None = None) -> RenderedTicket:
    """The conversation for ``event``; never raises (see the module docstring). ``card``:
    the event's timeline card, for templates (``{{ card.url }}``)."""
    return _render(settings, event, decision, store_name, errors=None, card=card)


def ticket_render_errors(settings: TicketSettings, event, decision,
                         *, store_name: str | None = None) -> list[TicketRenderError]:
    """Every part that fails to render for ``event``, without the fallbacks (for the
    loader's sample checks, where a failure is a config error)."""
    errors: list[TicketRenderError] = []
    _render(settings, event, decision, store_name, errors=errors)
    return errors


def _render(settings, event, decision, store_name, *, errors: list | None,
            card: dict | None = None) -> RenderedTicket:
    """Render every part; a failing part falls back and is recorded as a warning, and
    also in ``errors`` when the caller collects them."""
    conversation = settings.conversation
    context = templates.template_context(
        event, clause=getattr(decision, "clause", ""),
        negative=bool(getattr(decision, "negative", False)), store_name=store_name, card=card)
    warnings: list[str] = []

    def failed(part: str, error: Exception, consequence: str) -> None:
        warnings.append(f"the {part} template failed ({type(error).__name__}: {error});"
                        f" {consequence}")
        if errors is not None:
            errors.append(TicketRenderError(part, error))

    def render(part: str, source: str, default: str) -> str:
        try:
            return templates.render_template(source, context)
        except Exception as error:  # noqa: BLE001 - any template failure, SecurityError too
            failed(part, error, "the built-in default was used")
            return _render_default(default, context, event)

    subject = " ".join(render("subject", conversation.subject, templates.DEFAULT_SUBJECT).split())
    if not subject:
        failed("subject", ValueError("it renders empty"), "the built-in default was used")
        subject = " ".join(_render_default(templates.DEFAULT_SUBJECT, context, event).split())

    note = _tidy(render("note", conversation.note, templates.DEFAULT_NOTE))
    if not note:
        failed("note", ValueError("it renders empty"), "the built-in default was used")
        note = _tidy(_render_default(templates.DEFAULT_NOTE, context, event))
    note = truncate_note(note)

    custom, cut = {}, []
    for name, value in conversation.custom.items():
        try:
            if isinstance(value, str):
                value = templates.render_template(value, context)
            converted = convert_custom(name, value)
        except Exception as error:  # noqa: BLE001 - see the failure policy
            failed(f"custom.{name}", error, "the attribute was left out")
            continue
        if converted is not None:  # nothing to say (e.g. no rating on a delete)
            custom[name] = converted
            full = len(str(value).strip())
            if isinstance(converted, str) and len(converted) < full:
                cut.append(f"custom.{name} cut to {len(converted):,} of {full:,} characters "
                           f"(Kustomer's limit for Str/Txt attributes)")

    return RenderedTicket(
        subject=subject, note=note, priority=conversation.priority, status=conversation.status,
        tags=tuple(conversation.tags), team_ids=tuple(conversation.team_ids),
        queue_id=conversation.queue_id, custom=custom, warnings=tuple(warnings), cut=tuple(cut),
    )


def _render_default(source: str, context: dict, event) -> str:
    try:
        return templates.render_template(source, context)
    except Exception:  # noqa: BLE001 - the built-in template failing would be our bug
        return f"Okendo {event.resource_type}.{event.topic} {event.resource_id or ''}".strip()


def _tidy(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, no blank edges."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


def convert_custom(name: str, value):
    """A custom attribute value in the type its suffix names; None when empty.

    Raises ValueError for a value that is not of the type (a Num that is no number).
    """
    if value is None:
        return None
    suffix = re.search(r"(Str|Txt|Num|At|Bool|Url)$", name).group(1)
    if suffix == "Num":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        if not text or text.lower() == "none":
            return None
        if re.fullmatch(r"-?[0-9]+", text):
            return int(text)
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if suffix == "Bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if not text or text == "none":
            return None
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError(f"{text!r} is not true or false")
    text = str(value).strip()
    if not text or text == "None":
        return None
    if suffix in ("Str", "Txt") and len(text) > TEXT_ATTRIBUTE_LIMIT:
        return text[:TEXT_ATTRIBUTE_LIMIT - 1] + "…"
    if suffix == "At":
        try:
            datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO 8601 date-time") from None
    if suffix == "Url" and not re.match(r"https?://\S+$", text):
        raise ValueError(f"{text!r} is not an http(s) URL")
    return text
