"""Errors raised by the Kustomer client, and how an HTTP answer maps onto them.

Failure policy (what the caller does with each class):

* ``TransientError`` - connection errors, timeouts, 408, 429, 5xx. The client has already
  retried in-call; the caller should schedule a later retry, no sooner than
  ``retry_after`` seconds when that is set.
* ``PermanentError`` - 400, 404, 413, 422 and every other 4xx (and answers the client
  cannot use). Retrying sends the same request and gets the same answer: record
  ``message`` and stop.
* ``ConfigurationError`` - 401, 403 and missing settings. Nothing succeeds until a person
  fixes the key, its roles, its region or the settings: surface it loudly and hold the
  queue rather than burning retries.

Messages never contain the API key, and URLs in them go through ``redact_url`` because a
web hook URL is itself a credential (anyone holding it can post to the workflow).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from bridge.http.errors import CallError
from bridge.http.excerpt import EXCERPT_LIMIT, excerpt

HOOK_ROLES = "posting to hooks needs org.hooks (older docs: org.hook)"
TICKET_ROLES = (
    "tickets need org.permission.customer.read/create, "
    "org.permission.conversation.create/read/update, org.permission.note.create "
    "(old keys: the org.user.* roles), and org.permission.note.read to list notes"
)


class KustomerError(CallError):
    """Base class. ``url`` is already redacted; ``body_excerpt`` is the body's first
    ``EXCERPT_LIMIT`` (500) characters, as sent."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str = "",
        retry_after: float | None = None,
        body_excerpt: str | None = None,
    ) -> None:
        super().__init__(message, status=status, retry_after=retry_after)
        self.url = url
        self.body_excerpt = body_excerpt[:EXCERPT_LIMIT] if body_excerpt else body_excerpt


class TransientError(KustomerError):
    """Try again later (connection error, timeout, 408, 429, 5xx)."""


class PermanentError(KustomerError):
    """Never retry; record why (400, 404, 413, 422, other 4xx)."""


class ConfigurationError(KustomerError):
    """A person must fix the key, its roles, its region or the settings (401, 403)."""


def classify(status: int) -> type[KustomerError]:
    """The error class for an HTTP status that is not a success."""
    if status in (401, 403):
        return ConfigurationError
    if status in (408, 429) or status >= 500:
        return TransientError
    # Other 4xx, and anything else unexpected (e.g. an unfollowed 3xx): the same request
    # will get the same answer.
    return PermanentError


def redact_url(url: str) -> str:
    """``https://host/…/abc123…``: enough to tell URLs apart, not enough to reuse one.

    Hook URLs end in a secret hash and lookup URLs end in an e-mail address, so only the
    scheme, the host and the first 6 characters of the last path segment survive; the
    query string never does.
    """
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if not parts.scheme or not parts.netloc:
        return "<invalid url>"
    head = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"  # drop any user:pass@
    if not segments:
        return head + "/"
    last = segments[-1]
    # Short segments ("notes") are kept whole, which also makes redacting twice harmless.
    return f"{head}/…/{last if len(last) <= 6 else last[:6] + '…'}"


def parse_error_body(text: str | bytes | None) -> str:
    """One line describing Kustomer's error body.

    Understands ``{"errors": [{"code", "message", "meta"}]}`` and the JSON:API form
    ``{"errors": [{"status", "code", "title", "detail", "source": {"pointer"}}]}``;
    anything else becomes a whitespace-collapsed excerpt of the text.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not text or not text.strip():
        return "(empty body)"
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if isinstance(errors, dict):
        errors = [errors]
    if isinstance(errors, list):
        described = [_describe(e) for e in errors if isinstance(e, dict)]
        described = [d for d in described if d]
        if described:
            return excerpt("; ".join(described))
    return excerpt(text)


def _describe(error: dict) -> str:
    # JSON:API puts the useful text in `detail` (its `title` is generic, e.g. "Bad Request");
    # the usual form uses `message`. Fall back to `title` only when it is all there is.
    text = error.get("detail") or error.get("message") or error.get("title")
    line = ": ".join(str(p) for p in (error.get("code"), text) if p)
    source, meta = error.get("source"), error.get("meta")
    pointer = source.get("pointer") if isinstance(source, dict) else None
    if pointer:
        line += f" (at {pointer})"
    subs = meta.get("subErrors") if isinstance(meta, dict) else None
    if isinstance(subs, list) and subs:
        parts = [_describe(s) if isinstance(s, dict) else str(s) for s in subs]
        line += " [" + "; ".join(p for p in parts if p) + "]"
    return line


def error_for_response(
    status: int,
    url: str,
    body: str | bytes | None,
    *,
    retry_after: float | None = None,
) -> KustomerError:
    """Build the error for a non-2xx answer; ``url`` is redacted here."""
    where = redact_url(url)
    detail = parse_error_body(body)
    cls = classify(status)
    if status == 401:
        message = (
            f"Kustomer refused the API key (401) at {where}: check KUSTOMER_API_KEY is valid "
            f"and belongs to this org's region ({detail})"
        )
    elif status == 403:
        message = (
            f"Kustomer refused the request (403) at {where}: the API key in KUSTOMER_API_KEY "
            f"lacks a role: {HOOK_ROLES}; {TICKET_ROLES} ({detail})"
        )
    elif status == 413:
        message = f"Kustomer refused the body as too large (413) at {where}: {detail}"
    else:
        message = f"Kustomer answered {status} at {where}: {detail}"
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return cls(message, status=status, url=where, retry_after=retry_after, body_excerpt=raw)
