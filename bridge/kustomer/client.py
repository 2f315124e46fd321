"""A small Kustomer API client for the bridge: inbound web hooks, customers, conversations, notes.

Failure policy
--------------
* In-call retries (tenacity) cover ``TransientError`` only: connection errors, timeouts,
  408, 429 and 5xx. They stop after ``max_attempts`` tries, or earlier when the total
  time spent waiting would pass ``max_wait``. Waits are exponential backoff with jitter,
  except that a server hint (``Retry-After``, or ``x-ratelimit-reset`` on a 429) is
  obeyed exactly.
* A hint longer than ``max_wait`` ends the call at once with ``TransientError`` whose
  ``retry_after`` says when to come back: a worker thread must not sit out a rate-limit
  window that a durable queue can wait out for free. A 429 with a hint also pauses the
  shared ``Pacer`` so other threads hold back; while such a pause is longer than
  ``max_wait``, calls fail fast the same way without sending anything.
* ``PermanentError`` (400, 404, 413, 422, other 4xx, unusable answers) and
  ``ConfigurationError`` (401, 403, missing settings) are raised on the first try.
* What the caller must do: on ``TransientError`` schedule a later retry (no sooner than
  ``retry_after`` when set); on ``PermanentError`` record the message and give up; on
  ``ConfigurationError`` stop and alert a person, since nothing will work until the key,
  its roles, its region or the settings are fixed.
* Kustomer offers no idempotency key. A POST that timed out or got a 5xx may still have
  been processed, so a retry (in-call or queued) can post a hook twice or create a
  second note; callers who care look up by ``externalId`` before creating.

Every HTTP try, retried or not, is reported to ``on_attempt`` as an ``AttemptInfo``.
URLs in errors and in ``AttemptInfo`` are redacted (see ``errors.redact_url``); the API
key never appears in either.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from typing import Any, Callable
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from requests.exceptions import ChunkedEncodingError
from tenacity import (
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from . import contract
from .errors import (
    ConfigurationError,
    KustomerError,
    PermanentError,
    TransientError,
    classify,
    error_for_response,
    redact_url,
)
from .note_limit import truncate_note
from .pacing import Pacer
from bridge.http.env_session import EnvironmentOnceSession
from bridge.http.retry_after import parse_retry_after, wait_for_server_hint_or
from bridge.http.scrub import scrub

log = logging.getLogger(__name__)

Answer = tuple[requests.Response, float]  # the response and the latency of its try, in ms

# Kustomer answers 413 above "400 KB" without saying whether that is 400,000 or 409,600
# bytes: the contract takes the smaller, and the bridge refuses to send more.
HOOK_BODY_LIMIT = contract.HOOK_BODY_LIMIT
NOTES_PAGE_SIZE = 100  # GetNotesByConversation's page size (its maximum is not documented)
NOTES_MAX_PAGES = 20  # a ticket with more than 2,000 notes is not one the bridge wrote
EPOCH_THRESHOLD = 10**9  # an x-ratelimit-reset above this is a Unix time, not a delay
EPOCH_MS_THRESHOLD = 10**12  # ... and above this, a Unix time in milliseconds
# Kustomer's rate-limit window is 60 s, so no honest reset is further away than that; a
# misread header must not park a delivery for hours. Twice the window leaves room for skew.
RATELIMIT_RESET_CAP = 120.0

try:
    __version__ = metadata.version("okendo-kustomer-bridge")
except metadata.PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"
USER_AGENT = f"okendo-kustomer-bridge/{__version__}"


@dataclass(frozen=True)
class AttemptInfo:
    """One HTTP try. ``url`` is redacted; ``status`` is None when no answer came back."""

    method: str
    url: str
    status: int | None
    latency_ms: float
    error: str | None
    started_at: datetime


@dataclass(frozen=True)
class HookResult:
    """A hook POST Kustomer accepted (any 2xx): the event is queued for its workflow."""

    status: int
    latency_ms: float  # of the try that succeeded


# -- server hints --------------------------------------------------------------------------


def parse_ratelimit_reset(value: str | None, now: float) -> float | None:
    """Seconds to wait from ``x-ratelimit-reset``, at most ``RATELIMIT_RESET_CAP``.

    Kustomer has not settled the format, so it is read defensively: a value past 10**12 is
    a Unix time in milliseconds, past 10**9 (2001 as a Unix time, or 31 years as a delay)
    a Unix time in seconds, anything smaller the seconds to wait. Unreadable, negative or
    non-finite values give None (fall back to backoff).
    """
    if not value:
        return None
    try:
        reset = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(reset) or reset < 0:
        return None
    if reset > EPOCH_MS_THRESHOLD:
        reset = reset / 1000 - now
    elif reset > EPOCH_THRESHOLD:
        reset = reset - now
    return min(RATELIMIT_RESET_CAP, max(0.0, reset))


class stop_when_total_wait_would_exceed(stop_base):
    """Stop before a sleep that would take the call's total waiting past ``max_wait``.

    Counts the waits themselves (``idle_for``), not wall time, so it is exact with an
    injected ``sleep``.
    """

    def __init__(self, max_wait: float) -> None:
        self.max_wait = max_wait

    def __call__(self, retry_state) -> bool:
        return retry_state.idle_for + retry_state.upcoming_sleep > self.max_wait


# -- the client ----------------------------------------------------------------------------


class KustomerClient:
    """Thread-safe: share one client (one connection pool, one pacer) across worker threads.

    ``api_base`` is the org host (``https://<org>.api.kustomerapp.com``); only hook posts
    work without it. ``requests_per_minute`` sizes the pacer made here when ``pacer`` is
    not given; pass one ``Pacer`` to every client in the process to share the budget.
    ``sleep`` is used for retry waits and by that default pacer (tests pass a fake).
    """

    def __init__(
        self,
        api_key: str,
        api_base: str | None = None,
        *,
        requests_per_minute: int = 600,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        max_attempts: int = 4,
        max_wait: float = 30.0,
        session: requests.Session | None = None,
        pacer: Pacer | None = None,
        on_attempt: Callable[[AttemptInfo], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._api_key = api_key or ""
        self.api_base = api_base.rstrip("/") if api_base else None
        self.timeout = (connect_timeout, read_timeout)
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.on_attempt = on_attempt
        self._sleep = sleep
        self.pacer = pacer if pacer is not None else Pacer(requests_per_minute, sleep=sleep)
        self._owns_session = session is None
        if session is None:
            session = EnvironmentOnceSession()  # the environment read once per origin, not per call
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=20)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self.session = session
        # Sent per request rather than set on the session, so a session passed in by the
        # caller never carries our key to anyone else.
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if self._api_key:
            self._headers["Authorization"] = f"Bearer {self._api_key}"

    def __repr__(self) -> str:  # never show the key
        return f"<KustomerClient api_base={self.api_base!r}>"

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    # -- hooks ---------------------------------------------------------------------------

    def post_hook(self, url: str, body: dict) -> HookResult:
        """POST ``body`` as JSON to an inbound web hook URL, exactly as configured."""
        payload = self._encode(body, url)
        if len(payload) > HOOK_BODY_LIMIT:
            # Kustomer would answer 413 and a 413 is never worth retrying: skip the trip.
            raise PermanentError(
                f"hook body is {len(payload):,} bytes, over Kustomer's 400 KB limit "
                f"(read as {HOOK_BODY_LIMIT:,} bytes); not sent to {redact_url(url)}",
                status=413,
                url=redact_url(url),
            )
        response, latency_ms = self._request("POST", url, payload)
        return HookResult(status=response.status_code, latency_ms=latency_ms)

    # -- REST API ------------------------------------------------------------------------

    def current_token(self) -> dict:
        """The key's own token record: a cheap way to check key, region and roles."""
        return self._data(self._api("GET", "/v1/auth/tokens/current"))

    def find_customer_by_email(self, email: str) -> dict | None:
        return self._find(f"/v1/customers/email={_quote(email)}")

    def find_customer_by_external_id(self, external_id: str) -> dict | None:
        return self._find(f"/v1/customers/externalId={_quote(external_id)}")

    def create_customer(
        self,
        name: str | None,
        email: str | None = None,
        external_id: str | None = None,
        tags: list[str] | None = None,
        custom: dict | None = None,
    ) -> dict:
        body = _without_none(
            name=name,
            emails=[{"type": "home", "email": email}] if email else None,
            externalId=external_id,
            tags=tags,
            custom=custom,
        )
        return self._data(self._api("POST", "/v1/customers", body))

    def find_or_create_customer(
        self, email: str | None = None, name: str | None = None, external_id: str | None = None
    ) -> dict:
        """Kustomer has no upsert: look up, create if missing, and on a conflict look up again."""
        if not email and not external_id:
            raise ValueError("find_or_create_customer needs an email or an external_id")
        found = self._lookup_customer(email, external_id)
        if found is not None:
            return found
        try:
            return self.create_customer(name, email=email, external_id=external_id)
        except PermanentError as exc:
            # Emails and externalIds are unique per org, so a rejected create usually means
            # another creator got there first (the status is undocumented: 400 or 409).
            if exc.status not in (400, 409):
                raise
            found = self._lookup_customer(email, external_id)
            if found is None:
                raise  # a genuine 400 (e.g. a malformed email): report Kustomer's reason
            return found

    def find_conversation_by_external_id(self, external_id: str) -> dict | None:
        return self._find(f"/v1/conversations/externalId={_quote(external_id)}")

    def create_conversation(self, customer_id: str, **attributes: Any) -> dict:
        """``attributes`` pass through as Kustomer names them (name, status, externalId, ...)."""
        body = {"customer": customer_id, **_without_none(**attributes)}
        # Kustomer has no idempotency key: a create that timed out may have happened, and
        # retrying it here could open a second ticket. Only a 429 (surely not processed) is
        # retried in-call; anything else goes back to the caller, whose next round looks
        # the conversation up by externalId before creating it again.
        return self._data(self._api("POST", "/v1/conversations", body, retry_only_rejected=True))

    def update_conversation(self, conversation_id: str, **attributes: Any) -> dict:
        body = _without_none(**attributes)
        return self._data(self._api("PATCH", f"/v1/conversations/{_quote(conversation_id)}", body))

    def add_conversation_tags(self, conversation_id: str, names: list[str]) -> Any:
        """Tag by name (Kustomer creates missing tags). Returns the answer's ``data``, if any."""
        # AppendTagsToConversation takes a bare JSON array of names or ids, not an object
        # (see bridge/kustomer/contract/operations/AppendTagsToConversation.json).
        response = self._api(
            "POST", f"/v1/conversations/{_quote(conversation_id)}/tags", list(names)
        )
        try:
            return response.json().get("data")
        except (ValueError, AttributeError):
            return None  # the answer's shape is not documented either; success is the 2xx

    def create_note(self, conversation_id: str, body: str, external_id: str | None = None) -> dict:
        """Add an internal note (never sent to the shopper), cut to Kustomer's 10,240 chars."""
        body = truncate_note(body)
        payload = _without_none(body=body, externalId=external_id)
        # Like a conversation create, a note POST that timed out may have been written: only
        # a 429 is retried in-call; the caller looks for the note's externalId before posting
        # it again (see tickets.py).
        return self._data(self._api(
            "POST", f"/v1/conversations/{_quote(conversation_id)}/notes", payload,
            retry_only_rejected=True))

    def list_conversation_notes(self, conversation_id: str, page: int = 1) -> tuple[list, bool]:
        """One page of a conversation's notes, oldest first: (notes, whether more pages follow)."""
        response = self._api(
            "GET", f"/v1/conversations/{_quote(conversation_id)}/notes?page={int(page)}"
                   f"&pageSize={NOTES_PAGE_SIZE}")
        notes = self._data(response)
        if not isinstance(notes, list):
            raise PermanentError(f"Kustomer listed notes as {type(notes).__name__}, not a list",
                                 status=response.status_code, url=redact_url(response.url or ""))
        meta = (response.json() or {}).get("meta") or {}
        pages = meta.get("totalPages") if isinstance(meta, dict) else None
        more = page < pages if isinstance(pages, int) else len(notes) >= NOTES_PAGE_SIZE
        return notes, more

    def find_note_by_external_id(self, conversation_id: str, external_id: str) -> dict | None:
        """The conversation's note with ``external_id``, looked for in up to NOTES_MAX_PAGES pages.

        Kustomer has no note lookup by externalId, so this lists the conversation's notes.
        """
        for page in range(1, NOTES_MAX_PAGES + 1):
            notes, more = self.list_conversation_notes(conversation_id, page)
            for note in notes:
                attributes = note.get("attributes") if isinstance(note, dict) else None
                if isinstance(attributes, dict) and attributes.get("externalId") == external_id:
                    return note
            if not more:
                break
        return None

    # -- plumbing ------------------------------------------------------------------------

    def _lookup_customer(self, email: str | None, external_id: str | None) -> dict | None:
        found = self.find_customer_by_email(email) if email else None
        if found is None and external_id:
            found = self.find_customer_by_external_id(external_id)
        return found

    def _find(self, path: str) -> dict | None:
        try:
            return self._data(self._api("GET", path))
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise

    def _api(
        self, method: str, path: str, body: dict | list | None = None, *,
        retry_only_rejected: bool = False
    ) -> requests.Response:
        if not self.api_base:
            raise ConfigurationError(
                "KUSTOMER_API_BASE is not set: it is needed for customer, conversation and "
                "note calls (e.g. https://<org>.api.kustomerapp.com)"
            )
        if not self._api_key:
            raise ConfigurationError("KUSTOMER_API_KEY is not set")
        url = self.api_base + path
        payload = None if body is None else self._encode(body, url)
        return self._request(method, url, payload, retry_only_rejected=retry_only_rejected)[0]

    def _encode(self, body: Any, url: str) -> bytes:
        try:
            return json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise PermanentError(
                f"body for {redact_url(url)} cannot be sent as JSON: {exc}", url=redact_url(url)
            ) from None

    def _data(self, response: requests.Response) -> Any:
        where = redact_url(response.url or "")
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict) or "data" not in document:
            raise PermanentError(
                f"Kustomer answered {response.status_code} at {where} without a JSON "
                f"'data' member",
                status=response.status_code,
                url=where,
                body_excerpt=self._scrub(response.text),
            )
        return document["data"]

    def _request(
        self, method: str, url: str, payload: bytes | None, *, retry_only_rejected: bool = False
    ) -> Answer:
        retry = retry_if_exception(_was_rejected_unprocessed) if retry_only_rejected \
            else retry_if_exception_type(TransientError)
        retrying = Retrying(
            retry=retry,
            wait=wait_for_server_hint_or(wait_random_exponential(multiplier=0.5, max=8)),
            stop=stop_after_attempt(self.max_attempts)
            | stop_when_total_wait_would_exceed(self.max_wait),
            sleep=self._sleep,
            reraise=True,  # callers see our errors, never tenacity.RetryError
        )
        return retrying(self._attempt, method, url, payload)

    def _attempt(self, method: str, url: str, payload: bytes | None) -> Answer:
        where = redact_url(url)
        paused = self.pacer.pause_remaining()
        if paused > self.max_wait:
            # Another thread's 429 says the window is shut for longer than we may block.
            raise TransientError(
                f"Kustomer rate limit: calls are paused for another {paused:.1f}s after a 429; "
                f"not sent to {where}",
                url=where,
                retry_after=paused,
            )
        self.pacer.acquire()
        started_at = datetime.now(timezone.utc)
        started = time.monotonic()
        try:
            response = self.session.request(
                method, url, data=payload, headers=self._headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            error = self._transport_error(exc, where)
            self._report(method, where, None, started, started_at, error)
            # `from None`: the chained exception's text can hold the full (secret) URL.
            raise error from None
        status = response.status_code
        if 200 <= status < 300:
            latency_ms = self._report(method, where, status, started, started_at, None)
            return response, latency_ms
        hint = self._server_hint(response) if classify(status) is TransientError else None
        if status == 429 and hint is not None:
            self.pacer.pause_for(hint)  # hold back every thread sharing the pacer
        error = error_for_response(status, url, self._scrub(response.text), retry_after=hint)
        self._report(method, where, status, started, started_at, error)
        raise error

    def _transport_error(self, exc: requests.RequestException, where: str) -> KustomerError:
        name = type(exc).__name__
        if isinstance(exc, (requests.Timeout, requests.ConnectionError, ChunkedEncodingError)):
            # urllib3 keeps the useful part (refused, DNS failure, ...) in `.reason`; the
            # outer text names the URL path, which may be a hook's secret hash.
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            detail = f"{name}: {reason}" if reason else name
            return TransientError(f"no answer from Kustomer at {where} ({detail})", url=where)
        # InvalidURL, MissingSchema and the like: the same request will fail the same way.
        return PermanentError(f"could not send to {where} ({name})", url=where)

    def _server_hint(self, response: requests.Response) -> float | None:
        now = time.time()
        hint = parse_retry_after(response.headers.get("Retry-After"), now)
        if hint is None and response.status_code == 429:
            hint = parse_ratelimit_reset(response.headers.get("x-ratelimit-reset"), now)
        return hint

    def _scrub(self, text: str) -> str:
        return scrub(text, self._api_key, "[redacted]")

    def _report(
        self,
        method: str,
        where: str,
        status: int | None,
        started: float,
        started_at: datetime,
        error: KustomerError | None,
    ) -> float:
        latency_ms = (time.monotonic() - started) * 1000
        if self.on_attempt is not None:
            message = str(error) if error else None
            info = AttemptInfo(method, where, status, latency_ms, message, started_at)
            try:
                self.on_attempt(info)
            except Exception:
                # A broken logger must not turn a delivered hook into a "failed" one that
                # the queue would post again.
                log.exception("on_attempt callback failed for %s %s", method, where)
        return latency_ms


def _was_rejected_unprocessed(exc: BaseException) -> bool:
    """A 429 means Kustomer turned the request away before doing anything."""
    return isinstance(exc, TransientError) and exc.status == 429


def _quote(value: str) -> str:
    return quote(str(value), safe="")


def _without_none(**fields: Any) -> dict:
    return {key: value for key, value in fields.items() if value is not None}
