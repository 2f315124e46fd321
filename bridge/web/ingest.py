"""`POST /webhooks/okendo`: prove the request is Okendo's, store it, answer fast.

No call to Kustomer happens here: the answer comes as soon as the row is
committed, well inside Okendo's 15 s limit. Answers (design.md section 5):
202 stored; 200 duplicate `webhook-id`; 401 missing/bad signature or stale
timestamp (nothing stored); 413 over the body limit; a genuine body that is not
JSON or fails the schema is stored as `invalid` and answered 202 with the reason;
503 when the database cannot take the event (Okendo will retry, nothing is lost), and
503 "not set up yet" while no signing secret exists (neither OKENDO_WEBHOOK_SECRET nor one
stored by the console's setup page).
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from bridge.alerts.refusals import note_refused_signature
from bridge.delivery import queue
from bridge.events import json_body, store
from bridge.events.models import EventStatus
from bridge.okendo.schemas import EventValidationError, email_of, validate_event
from bridge.web import signatures, webhook_secrets

log = logging.getLogger(__name__)
bp = Blueprint("ingest", __name__)

KEPT_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp",
                "svix-signature", "content-type", "user-agent")


@bp.post("/webhooks/okendo")
def receive():
    runtime = current_app.extensions["bridge"]
    settings = runtime.settings
    if request.content_length is not None and request.content_length > settings.max_body_bytes:
        return _too_large(settings.max_body_bytes)
    body = request.stream.read(settings.max_body_bytes + 1)
    if len(body) > settings.max_body_bytes:
        return _too_large(settings.max_body_bytes)

    book = webhook_secrets.current(runtime)
    secrets = book.all_secrets()
    if not secrets:
        # Booted before anyone connected Okendo (the console's setup page does): Okendo
        # retries a 503, and nothing unsigned is ever stored.
        return jsonify(error="not set up yet",
                       reason="no Okendo signing secret: connect Okendo at /admin/setup or set "
                              "OKENDO_WEBHOOK_SECRET"), 503, {"Retry-After": "60"}
    try:
        verified, secret = signatures.verify_signed_by(body, request.headers, secrets)
    except signatures.SignatureError as exc:
        log.warning("refused webhook: %s", exc)
        note_refused_signature(current_app, str(exc))  # counted in memory; alerts on a burst
        return jsonify(error="invalid signature", reason=str(exc)), 401

    # Only a verified body is parsed (parsing is the costlier, riskier step).
    fields, status, errors = _inspect(body)
    refused = book.refusal(secret, fields.get("subscriber_id"), readable="resource_type" in fields)
    if refused:
        log.warning("refused webhook %s: %s", verified.id, refused)
        note_refused_signature(current_app, refused)
        return jsonify(error="invalid signature", reason=refused), 401
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower() in KEPT_HEADERS}
    try:
        with runtime.db.session() as session:
            stored = store.store_event(session, webhook_id=verified.id, body=body, headers=headers,
                                       status=status, errors=errors, **fields)
            if stored.created and status == EventStatus.PENDING:
                queue.notify(session)  # in the insert's transaction: workers wake once it commits
    except SQLAlchemyError:
        log.exception("could not store webhook %s; answering 503 so Okendo retries", verified.id)
        return jsonify(error="storage unavailable, retry later"), 503, {"Retry-After": "5"}

    extra = {"event_id": stored.event_id, "webhook_id": verified.id, "status": stored.status}
    if not stored.created:
        log.info("duplicate webhook", extra=extra)
        return jsonify(status="duplicate", event_id=stored.event_id), 200
    log.info("stored webhook", extra=extra)
    answer = {"status": status, "event_id": stored.event_id}
    if status == EventStatus.INVALID:
        answer["reason"], answer["errors"] = "stored as invalid; fix the mapping or schema and replay", errors
    elif status == EventStatus.SKIPPED:
        answer["reason"] = fields["last_error"]
    return jsonify(answer), 202


def _inspect(body: bytes):
    """Parse and validate just enough to store searchable columns and the right status."""
    try:
        parsed = json_body.parse(body)
    except json_body.BodyError as exc:
        return {}, EventStatus.INVALID, {"_body": [str(exc)]}
    payload = parsed.data
    # Repaired text is delivered (with U+FFFD); the event says where, for an admin.
    repaired = {"_repaired": [f"lone surrogate replaced by U+FFFD at {path}" for path in parsed.repaired]} \
        if parsed.repaired else None
    envelope = payload if isinstance(payload, dict) else {}
    resource = envelope.get("resource") if isinstance(envelope.get("resource"), dict) else {}
    fields = {
        "resource_type": _text(envelope.get("resourceType"), 64),
        "topic": _text(envelope.get("topic"), 16),
        "subscriber_id": _text(resource.get("subscriberId"), 64),
        "sequence_number": _text(envelope.get("sequenceNumber"), 40),
    }
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


def _text(value, limit: int) -> str | None:
    """A copy of a payload value that every database column takes (the raw body is kept
    intact beside it). PostgreSQL text refuses NUL and no database takes a lone surrogate
    (JSON allows both as escapes): replaced, so a genuine event is never refused for them."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)[:limit].replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8")


def _too_large(limit: int):
    return jsonify(error="payload too large", limit_bytes=limit), 413
