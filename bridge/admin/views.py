"""The admin console's pages: overview, events, one event, replay, mapping playground.

Every route sits behind `auth.require_admin` and every POST behind CSRF (see
`bridge.admin`). Pages only read, except replay, which is the CLI's replay
(`bridge.delivery.replay`: done actions stay done, then each event is enqueued).

Failure policy: what the console cannot compute (the preview when the mapping file is
broken, the queue depth when the queue is down) is shown as such on the page rather
than failing the page; database errors propagate (500, logged).
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from bridge.admin import charts, stats
from bridge.admin.redaction import redact_preview, redact_target
from bridge.delivery import replay
from bridge.delivery.preview import preview_payload
from bridge.events import json_body, store, ticket_store
from bridge.events.filters import EventFilter
from bridge.events.models import ActionStatus, EventStatus, Ticket, utcnow
from bridge.kustomer.links import customer_url, kustomer_app_url  # noqa: F401 - kustomer_app_url re-exported
from bridge.logs import mask
from bridge.mapping import MappingError
from bridge.mapping.model import default_kustomer_target
from bridge.okendo.schemas import KNOWN_RESOURCE_TYPES, KNOWN_TOPICS

log = logging.getLogger(__name__)
bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE_SIZE = 50
# The list offers "replay all matching" for replay.REPLAYABLE statuses: after a fix
# (mapping, key, route) they are the ones worth running again.
# One bulk replay touches at most this many events; the page says when more remain.
REPLAY_LIMIT = 5000
SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"
RAW_BODY_LIMIT = 256 * 1024  # characters of a raw body shown on the event page
HIDDEN_HEADERS = ("webhook-signature", "svix-signature")
MAX_ID = 2**63 - 1  # BIGINT
MAX_PAGE = MAX_ID // PAGE_SIZE


def runtime():
    return current_app.extensions["bridge"]


# -- overview ---------------------------------------------------------------------------
@bp.get("/")
def overview():
    # Imported here: admin.setup registers its pages on this module's `bp` (a real cycle).
    from bridge.admin.setup import needs_setup

    if runtime().live is not None and needs_setup(runtime().live):
        return redirect(url_for("admin.setup"))  # a first run: nothing to overview yet
    now = utcnow()
    numbers = stats.overview(runtime(), now)
    return render_template("admin/overview.html", overview=numbers, mapping=_mapping_state(),
                           statuses=EventStatus.ALL, charts_data=charts.overview_charts(numbers.hourly, now))


def _mapping_state() -> dict:
    """Which mapping file is in use and whether it loads (never raises)."""
    mappings = runtime().mappings
    state = {"path": str(getattr(mappings, "path", runtime().settings.mapping_path)), "valid": True,
             "problems": [], "serving_last_good": False}
    try:
        mappings.current()
    except MappingError as error:
        state.update(valid=False, problems=[str(p) for p in error.problems])
        return state
    except Exception as error:  # noqa: BLE001 - the page must still say something useful
        state.update(valid=False, problems=[f"{type(error).__name__}: {error}"])
        return state
    state["path"] = str(getattr(mappings, "path", state["path"]))  # e.g. the version just loaded
    if getattr(mappings, "last_error", None):
        # The file on disk is bad; the process keeps serving the last good mapping.
        state.update(valid=False, serving_last_good=True, problems=[str(p) for p in mappings.last_error])
    return state


# -- events -----------------------------------------------------------------------------
@bp.get("/events")
def events():
    filters = EventFilter.from_args(request.args)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    if page > MAX_PAGE:
        abort(400, description=f"page={page} is past any page there can be")
    with runtime().db.session() as session:
        total = filters.count(session)
        rows = store.list_events(session, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters.list_kwargs())
        listed = [_row(event) for event in rows]
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return render_template("admin/events.html", rows=listed, filters=filters, total=total, page=page,
                           pages=pages, statuses=EventStatus.ALL, choices=_filter_choices(filters),
                           replayable=replay.REPLAYABLE)


def _row(event) -> dict:
    """What the list shows of one event: no body, emails masked."""
    return dict(id=event.id, received_at=stats.as_utc(event.received_at), name=event.event_name or "?",
                store=event.subscriber_id, resource_id=event.resource_id,
                email=mask(event.email) if event.email else "", status=event.status, attempts=event.attempts,
                last_error=mask(event.last_error) if event.last_error else "")


def _filter_choices(filters: EventFilter) -> dict:
    """The drop-downs' options: Okendo's known types and topics (no DISTINCT scan of a big
    table), plus the current value when it is another one (a skipped, unknown type)."""
    types, topics = sorted(KNOWN_RESOURCE_TYPES), list(KNOWN_TOPICS)
    if filters.resource_type and filters.resource_type not in types:
        types.append(filters.resource_type)
    if filters.topic and filters.topic not in topics:
        topics.append(filters.topic)
    return {"resource_types": types, "topics": topics}


@bp.get("/events/<int:event_id>")
def event_page(event_id: int):
    _check_id(event_id)
    with runtime().db.session() as session:
        event = store.load(session, event_id, with_history=True)
        if event is None:
            abort(404, description=f"no event {event_id}")
        ticket = _ticket_for(session, event)
        attempts = [dict(started_at=stats.as_utc(a.started_at), action=a.action_key, method=a.method,
                         target=redact_target(a.target), status_code=a.status_code, latency_ms=a.latency_ms,
                         error=a.error) for a in event.delivery_attempts]
        actions = [dict(key=a.key, status=a.status, error=a.error, updated_at=stats.as_utc(a.updated_at),
                        result=_pretty(a.result) if a.result else "") for a in event.actions]
        cards = _cards_of(event.actions)
    headers = {k: v for k, v in (event.headers or {}).items() if k.lower() not in HIDDEN_HEADERS}
    return render_template(
        "admin/event.html", event=event, received_at=stats.as_utc(event.received_at),
        completed_at=stats.as_utc(event.completed_at), next_attempt_at=stats.as_utc(event.next_attempt_at),
        headers=headers, raw=_raw_body(event.body), errors=_pretty(event.errors) if event.errors else "",
        preview=_preview_of_body(event.body), actions=actions, attempts=attempts, ticket=ticket,
        conversation_url=_conversation_url(ticket.conversation_id) if ticket and ticket.conversation_id else None,
        cards=cards,
    )


def _cards_of(actions) -> list[dict]:
    """The timeline cards this event wrote, each with a link to the shopper's timeline."""
    env, api_base = _kustomer_base()
    return [dict(a.result, key=a.key, url=customer_url(env, api_base, a.result.get("customer_id")))
            for a in actions if a.key.startswith("timeline:") and a.status == ActionStatus.DONE
            and isinstance(a.result, dict) and a.result.get("kobject_id")]


def _check_id(event_id: int) -> None:
    """Ids past a BIGINT overflow the database driver (a 500); they name no event."""
    if event_id > MAX_ID:
        abort(400, description=f"{event_id} is not an event id")


def _ticket_for(session, event) -> Ticket | None:
    if not (event.subscriber_id and event.resource_type and event.resource_id):
        return None
    return ticket_store.find(session, subscriber_id=event.subscriber_id, resource_type=event.resource_type,
                             resource_id=event.resource_id)


def _conversation_url(conversation_id: str) -> str | None:
    base = kustomer_app_url(*_kustomer_base())
    return f"{base}/app/conversations/{conversation_id}" if base else None


def _kustomer_base():
    """The live settings (the environment, then the setup page's values) and the default
    org's API base read from them by its one reader, for every link into Kustomer's app."""
    env = runtime().live or runtime().settings.raw
    return env, default_kustomer_target(env).api_base


def _raw_body(body: bytes) -> str:
    """Pretty-printed JSON when the body is JSON, the text as received otherwise."""
    try:
        text = json.dumps(json_body.parse(body).data, indent=2, ensure_ascii=False)
    except json_body.BodyError:
        # As received; a lone surrogate escape stays an escape, so the page can encode it.
        text = body.decode("utf-8", errors="replace")
    if len(text) > RAW_BODY_LIMIT:
        text = text[:RAW_BODY_LIMIT] + f"\n… ({len(text) - RAW_BODY_LIMIT} more characters not shown)"
    return text


def _pretty(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _preview_of_body(body: bytes) -> dict:
    try:
        payload = json_body.parse(body).data
    except json_body.BodyError as exc:
        return {"unavailable": f"the stored body cannot be previewed ({exc})"}
    return _preview(payload)


def _preview(payload, which: str = "live") -> dict:
    """What the live mapping (or the console's draft) makes of a payload, hook URLs
    redacted; never raises."""
    try:
        if which == "draft":
            # Imported here: admin.mapping_views registers its pages on this module's `bp`.
            from bridge.admin.mapping_views import draft_mapping

            mapping = draft_mapping()
        else:
            mapping = runtime().mappings.current()
    except MappingError as error:
        what = "the draft" if which == "draft" else "the mapping file"
        return {"unavailable": f"{what} does not load: " + "; ".join(str(p) for p in error.problems)}
    try:
        result = redact_preview(preview_payload(payload, mapping))
    except Exception as exc:  # noqa: BLE001 - a preview bug must not hide the event page
        log.exception("preview failed")
        return {"unavailable": f"preview failed: {type(exc).__name__}: {exc}"}
    for hook in result.get("hooks") or []:
        hook["body_text"] = _pretty(hook.get("body"))
    if result.get("errors"):
        result["errors_text"] = _pretty(result["errors"])
    return result


# -- replay -----------------------------------------------------------------------------
@bp.post("/events/<int:event_id>/replay")
def replay_one(event_id: int):
    _check_id(event_id)
    replayed = _replay([event_id])
    if replayed:
        flash(f"Replayed 1 event (event {event_id} is pending again; done actions are not redone).", "ok")
    else:
        with runtime().db.session() as session:
            [(reason, _ids)] = replay.not_replayed(session, [event_id], []).items()
        flash(f"Event {event_id} was not replayed: {reason}.", "ok" if reason == replay.DELIVERED_MEANS else "error")
    return redirect(url_for("admin.event_page", event_id=event_id), 303)


@bp.route("/replay", methods=["GET", "POST"])
def replay_many():
    filters = EventFilter.from_args(request.values, default_status=EventStatus.DEAD)
    if request.method == "POST" and request.form.get("confirm") == "yes" and not filters.problems:
        with runtime().db.session() as session:
            ids = filters.ids(session, REPLAY_LIMIT)
        replayed = _replay(ids)
        remaining = ""
        if len(ids) == REPLAY_LIMIT:
            remaining = f" At most {REPLAY_LIMIT} are replayed at once: replay again for the rest."
        flash(f"Replayed {len(replayed)} event{'s' if len(replayed) != 1 else ''} ({filters.describe()})."
              + (f" {len(ids) - len(replayed)} being processed right now were left alone." if len(ids) > len(replayed) else "")
              + remaining, "ok")
        return redirect(url_for("admin.events", **filters.as_args()), 303)
    with runtime().db.session() as session:
        count = filters.count(session)
    return render_template("admin/replay_confirm.html", filters=filters, count=count, limit=REPLAY_LIMIT)


def _replay(event_ids: list[int]) -> list[int]:
    """Replay (bridge.delivery.replay), and log who did it."""
    replayed = replay.replay(runtime().db, event_ids, runtime().enqueue)
    if replayed:
        who = request.authorization.username if request.authorization else "?"
        log.info("admin %s replayed %d event(s): %s", who, len(replayed),
                 ", ".join(map(str, replayed[:20])) + (" …" if len(replayed) > 20 else ""))
    return replayed


# -- mapping playground -----------------------------------------------------------------
def bundled_samples() -> list[str]:
    return sorted(p.name for p in SAMPLES_DIR.glob("*.json")) if SAMPLES_DIR.is_dir() else []


@bp.route("/playground", methods=["GET", "POST"])
def playground():
    samples = bundled_samples()
    which = "draft" if request.values.get("mapping") == "draft" else "live"
    source = request.values.get("sample", "")
    payload_text = request.form.get("payload", "") if request.method == "POST" else ""
    if source and not payload_text.strip():
        if source not in samples:  # only names from the folder, never a path
            abort(404, description=f"no bundled sample {source!r}")
        payload_text = (SAMPLES_DIR / source).read_text(encoding="utf-8")
    preview = problem = None
    if payload_text.strip():
        try:
            preview = _preview(json_body.parse(payload_text).data, which)
        except json_body.BodyError as exc:
            problem = str(exc)
    return render_template("admin/playground.html", samples=samples, sample=source, payload=payload_text,
                           preview=preview, problem=problem, mapping=_mapping_state(), which=which)


@bp.get("/style.css")
def stylesheet():
    # Served from the templates folder so it ships with the package data; no inline
    # styles, so the CSP can say style-src 'self'.
    source, _, _ = current_app.jinja_loader.get_source(current_app.jinja_env, "admin/admin.css")
    return current_app.response_class(source, mimetype="text/css")
