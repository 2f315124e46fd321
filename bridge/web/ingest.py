"""`POST /webhooks/okendo`: prove the request is Okendo's, store it, answer fast.

No call to Kustomer happens here: the answer comes as soon as the row is
committed, well inside Okendo's 15 s limit. The request does what issue 16 asks and no
more: verify the signature, one INSERT of the raw event (plus NOTIFY in the same
transaction on PostgreSQL), answer. Answers (design.md section 5):
202 stored; 200 duplicate `webhook-id`; 401 missing/bad signature or stale
timestamp (nothing stored); 413 over the body limit; a genuine body that is not
JSON or whose envelope is broken is stored as `invalid` and answered 202 with the
errors; one of a relayed type with a sound envelope is stored `pending` and its resource is
validated by the worker, which makes it `invalid` with the schema's errors if it fails
(issue 16: full validation cost more than the rest of the request; bridge.okendo.envelope);
503 when the database cannot take the event (Okendo will retry, nothing is lost), and
503 "not set up yet" while no signing secret exists (neither OKENDO_WEBHOOK_SECRET nor one
stored by the console's setup page).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from bridge.alerts.refusals import note_refused_signature
from bridge.delivery import queue
from bridge.events import event_insert, json_body
from bridge.events.models import EventStatus
from bridge.okendo import envelope
from bridge.okendo.schemas import EventValidationError, email_of, validate_event
from bridge.web import requestlog, signatures, webhook_secrets

log = logging.getLogger(__name__)
bp = Blueprint("ingest", __name__)

KEPT_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp",
                "svix-signature", "content-type", "user-agent")


PATH = "/webhooks/okendo"


@dataclass(frozen=True)
class Answer:
    """What the webhook answers, whichever way it was served: the HTTP status, the JSON body,
    extra headers, and what goes on the request's log line (`requestlog`), if anything."""

    status: int
    body: dict
    headers: tuple[tuple[str, str], ...] = ()
    note: tuple[str, dict] | None = None


def too_large(limit: int) -> Answer:
    return Answer(413, {"error": "payload too large", "limit_bytes": limit})


def webhook_headers(environ) -> dict[str, str]:
    """The request's headers, names lower-cased, from its WSGI variables, as Werkzeug reads
    them (`request.headers`): read once, for the signature check and the stored copy."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                headers[key[5:].replace("_", "-").lower()] = value
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers[key.replace("_", "-").lower()] = value
    return headers


@bp.post(PATH)
def receive():
    """The webhook through Flask's request cycle. Most webhooks never come here: the app serves
    a POST with a Content-Length without it (`bridge.web.ingest_wsgi`), with the same `answer`;
    this view takes the rest (a body of unknown length, say)."""
    runtime = current_app.extensions["bridge"]
    limit = runtime.settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        result = too_large(limit)
    else:
        body = request.stream.read(limit + 1)
        result = too_large(limit) if len(body) > limit else \
            answer(current_app, runtime, body, webhook_headers(request.environ))
    if result.note is not None:
        requestlog.note(result.note[0], **result.note[1])
    return jsonify(result.body), result.status, dict(result.headers)


def answer(app, runtime, body: bytes, headers: dict[str, str]) -> Answer:
    """Everything the webhook does once its body is read (within the size limit): check the
    signature, look at the envelope, store the event with one INSERT, and say what to answer.
    `headers` are the request's, names lower-cased (`webhook_headers`)."""
    book = webhook_secrets.current(runtime)
    secrets = book.all_secrets()
    if not secrets:
        # Booted before anyone connected Okendo (the console's setup page does): Okendo
        # retries a 503, and nothing unsigned is ever stored.
        return Answer(503, {"error": "not set up yet",
                            "reason": "no Okendo signing secret: connect Okendo at /admin/setup or set "
                                      "OKENDO_WEBHOOK_SECRET"}, (("Retry-After", "60"),))
    try:
        verified, secret = signatures.verify_signed_by(body, headers, secrets)
    except signatures.SignatureError as exc:
        log.warning("refused webhook: %s", exc)
        note_refused_signature(app, str(exc))  # counted in memory; alerts on a burst
        return Answer(401, {"error": "invalid signature", "reason": str(exc)})

    # Only a verified body is parsed (parsing is the costlier, riskier step).
    fields, status, errors = _inspect(body)
    refused = book.refusal(secret, fields.get("subscriber_id"), readable="resource_type" in fields)
    if refused:
        log.warning("refused webhook %s: %s", verified.id, refused)
        note_refused_signature(app, refused)
        return Answer(401, {"error": "invalid signature", "reason": refused})
    kept = {name: value for name, value in headers.items() if name in KEPT_HEADERS}
    try:
        # One statement in autocommit: committed when it returns, so before the answer, with
        # no BEGIN and COMMIT round trips, on a bare pooled DBAPI connection (one statement
        # needs none of a SQLAlchemy Connection's machinery; bridge.events.event_insert). On
        # PostgreSQL the same statement wakes the workers (NOTIFY, sent when it commits).
        stored = event_insert.store_event(runtime.db.engine, webhook_id=verified.id, body=body, headers=kept,
                                          status=status, errors=errors, wake=queue.CHANNEL, **fields)
    except SQLAlchemyError:
        log.exception("could not store webhook %s; answering 503 so Okendo retries", verified.id)
        return Answer(503, {"error": "storage unavailable, retry later"}, (("Retry-After", "5"),))

    # On the request's own log line (one line per webhook), with the method, path and answer.
    note = ("stored webhook" if stored.created else "duplicate webhook",
            {"event_id": stored.event_id, "webhook_id": verified.id, "event_status": stored.status})
    if not stored.created:
        return Answer(200, {"status": "duplicate", "event_id": stored.event_id}, note=note)
    reply = {"status": status, "event_id": stored.event_id}
    if status == EventStatus.INVALID:
        reply["reason"], reply["errors"] = "stored as invalid; fix the mapping or schema and replay", errors
    elif status == EventStatus.SKIPPED:
        reply["reason"] = fields["last_error"]
    return Answer(202, reply, note=note)


def _inspect(body: bytes):
    """Parse the body and look at its envelope: just enough to store the searchable columns
    and the right status. An event of a relayed type whose envelope is well formed is
    `pending` without its resource being validated: the worker does that (and marks it
    `invalid` with the schema's errors when it fails; bridge.okendo.envelope says why). Anything
    else is validated in full here, to answer `invalid` (with every error) or `skipped`."""
    try:
        parsed = json_body.parse(body)
    except json_body.BodyError as exc:
        return {}, EventStatus.INVALID, {"_body": [str(exc)]}
    payload = parsed.data
    # Repaired text is delivered (with U+FFFD); the event says where, for an admin.
    repaired = {"_repaired": [f"lone surrogate replaced by U+FFFD at {path}" for path in parsed.repaired]} \
        if parsed.repaired else None
    relayable = envelope.relayable(payload)
    if relayable is not None:
        return {name: _text(value, COLUMN_LIMITS[name]) for name, value in relayable.items()}, \
            EventStatus.PENDING, repaired
    sent = envelope.as_sent(payload) or {}
    fields = {name: _text(sent.get(name), COLUMN_LIMITS[name])
              for name in ("resource_type", "topic", "subscriber_id", "sequence_number")}
    try:
        event = validate_event(payload)
    except EventValidationError as exc:
        return fields, EventStatus.INVALID, {**exc.as_json(), **(repaired or {})}
    fields.update(resource_id=_text(event.resource_id, 128), email=_text(email_of(event), 320),
                  sequence_number=_text(event.sequence_number, 40))
    if not event.known:
        fields["last_error"] = f"resource type {event.resource_type!r} is not relayed"
        return fields, EventStatus.SKIPPED, repaired
    return fields, EventStatus.PENDING, repaired


# The length of each column ingest fills from the payload (bridge.events.models.Event).
COLUMN_LIMITS = {"resource_type": 64, "topic": 16, "subscriber_id": 64, "resource_id": 128,
                 "sequence_number": 40, "email": 320}


def _text(value, limit: int) -> str | None:
    """A copy of a payload value that every database column takes (the raw body is kept
    intact beside it). PostgreSQL text refuses NUL and no database takes a lone surrogate
    (JSON allows both as escapes): replaced, so a genuine event is never refused for them."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)[:limit].replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8")
