"""Standard Webhooks / Svix signatures: how Okendo proves a webhook is genuine.

Signed content is `{id}.{timestamp}.{raw body}`, HMAC-SHA256 with the base64 key
after `whsec_`, sent as space-separated `v1,<base64>` entries in
`webhook-signature` (or `svix-signature`).

Why not `standardwebhooks.Webhook.verify` directly: it decodes the body as UTF-8
(a genuine body that is not UTF-8 would be refused instead of being kept as
`invalid`), raises assorted exceptions on malformed headers, and checks one
secret at a time. This module verifies the raw bytes, accepts several secrets
during a rotation, and turns every problem into one `SignatureError`. The
tests check it against the library: what the library signs, this verifies.

Failure policy: `verify` either returns the verified `WebhookHeaders` or raises
`SignatureError` with a reason safe to show the caller (never a secret).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Iterable, Mapping

from bridge.okendo.signing_secrets import decode_secret

TOLERANCE_SECONDS = 5 * 60
HEADER_PREFIXES = ("webhook-", "svix-")


class SignatureError(Exception):
    """The request is not provably from Okendo; answer 401 and store nothing."""


@dataclass(frozen=True)
class WebhookHeaders:
    id: str
    timestamp: int
    signature: str


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value Okendo would send (one `v1,` entry)."""
    digest = hmac.new(decode_secret(secret), _signed_content(webhook_id, timestamp, body), hashlib.sha256)
    return "v1," + base64.b64encode(digest.digest()).decode()


def read_headers(headers: Mapping[str, str]) -> WebhookHeaders:
    """Pick id, timestamp and signature from either spelling (`webhook-*` or `svix-*`)."""
    lowered = {k.lower(): v for k, v in headers.items()}

    def first(name: str) -> str | None:
        for prefix in HEADER_PREFIXES:
            value = lowered.get(prefix + name)
            if value:
                return value.strip()
        return None

    webhook_id, timestamp, signature = first("id"), first("timestamp"), first("signature")
    missing = [n for n, v in (("id", webhook_id), ("timestamp", timestamp), ("signature", signature)) if not v]
    if missing:
        raise SignatureError("missing header(s): " + ", ".join(f"webhook-{n}" for n in missing))
    if len(webhook_id) > 255:
        raise SignatureError("webhook-id is longer than 255 characters")
    try:
        ts = int(timestamp)
    except ValueError:
        raise SignatureError("webhook-timestamp is not a unix time in seconds") from None
    return WebhookHeaders(id=webhook_id, timestamp=ts, signature=signature)


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Iterable[str],
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> WebhookHeaders:
    """Check the signature of `body` against every secret; return the headers if one matches."""
    return verify_signed_by(body, headers, secrets, now=now, tolerance=tolerance)[0]


def verify_signed_by(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Iterable[str],
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> tuple[WebhookHeaders, str]:
    """Like `verify`, and also which of `secrets` signed it (so the caller can check that
    the secret belongs to the store the event names, see `bridge.web.webhook_secrets`)."""
    keys = []
    for secret in secrets:
        try:
            keys.append((decode_secret(secret), secret))
        except ValueError:
            continue  # a malformed secret in the list must not block the good ones
    if not keys:
        raise SignatureError("no usable OKENDO_WEBHOOK_SECRET is configured")

    parsed = read_headers(headers)
    now = time.time() if now is None else now
    if parsed.timestamp < now - tolerance:
        raise SignatureError("webhook-timestamp is more than 5 minutes old")
    if parsed.timestamp > now + tolerance:
        raise SignatureError("webhook-timestamp is more than 5 minutes in the future")

    content = _signed_content(parsed.id, parsed.timestamp, body)
    offered = list(_offered_signatures(parsed.signature))
    if not offered:  # nothing to compare: spare the HMAC of a large body per secret
        raise SignatureError("no v1 signature in webhook-signature")
    for key, secret in keys:
        expected = hmac.new(key, content, hashlib.sha256).digest()
        # compare_digest against every offered entry: constant time per comparison.
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return parsed, secret
    raise SignatureError("no signature matches")


def _signed_content(webhook_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{webhook_id}.{timestamp}.".encode() + body


def _offered_signatures(header: str) -> Iterable[bytes]:
    for entry in header.split():
        version, _, value = entry.partition(",")
        if version != "v1" or not value:
            continue
        try:
            yield base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
