"""A small client for Okendo's Merchant REST API: webhook subscriptions only.

What is confirmed (docs.okendo.io, "Merchant REST API" and its "Webhooks" endpoint page)
and what is inferred:

* confirmed: base ``https://api.okendo.io/enterprise``, HTTPS only; HTTP Basic auth with
  the Okendo User ID as username and the 32-character API key as password; the
  ``okendo-api-version`` header; about 2 requests/second with a small burst, 429 beyond;
  ``GET /webhook_subscriptions?limit=1..100&lastEvaluated=...`` answering
  ``{"webhookSubscriptions": [...], "nextUrl": ...}`` where ``nextUrl`` is a link relative
  to the base path ("append the nextUrl to the base path"); ``POST /webhook_subscriptions``
  with ``endpointUrl``, ``isEnabled``, ``version`` and ``subscriptions``, answering the new
  subscription "which also contains the Webhook Secret".
* not confirmed: the name of the secret's field (a third-party catalogue calls it
  ``webhookSecret``), so :func:`find_signing_secret` looks for any ``whsec_`` string;
  the path of the delete call (``DELETE /webhook_subscriptions/{id}`` is inferred from the
  REST conventions of the rest of the API); the shape of error bodies (the docs only say
  errors are JSON, so ``message`` / ``error`` / ``errors`` are all read).

Failure policy
--------------
* Pacing: every HTTP try, retries included, waits for its slot so that tries start at
  least ``1 / requests_per_second`` seconds apart (2/s by default, Okendo's rate).
* Retries (tenacity, at most ``max_attempts`` tries, exponential backoff 0.5 s, 1 s, 2 s...
  capped at 4 s): 429, 5xx and connection errors / timeouts, for the GET and DELETE calls.
  A ``Retry-After`` header (seconds or an HTTP date) is obeyed exactly; one longer than
  ``max_retry_after`` ends the call at once with ``OkendoTransientError`` and its
  ``retry_after`` set, instead of blocking the terminal.
* The create call (POST) is not idempotent: it is retried only when Okendo certainly did
  not act on it (429, or a connection that could not be opened). After a 5xx or a timeout
  once the request was sent it raises ``OkendoTransientError`` with
  ``may_have_succeeded=True``: list the subscriptions before trying again (the
  ``subscribe`` command does that and will not create a duplicate).
* A DELETE retried after an ambiguous failure that then gets 404 counts as done (the
  earlier try deleted it); a 404 on the first try raises ``OkendoNotFoundError``.
* 401 and 403 raise ``OkendoAuthError`` at once, telling the user to check
  ``OKENDO_USER_ID`` / ``OKENDO_API_KEY``. Every other 4xx raises ``OkendoError`` with the
  response's own message; 3xx is never followed (credentials stay on the API host).
* Messages never contain the API key (it is also scrubbed from any echoed response text).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from bridge.http.env_session import EnvironmentOnceSession
from bridge.http.errors import CallError
from bridge.http.excerpt import excerpt
from bridge.http.retry_after import parse_retry_after, wait_for_server_hint_or
from bridge.http.scrub import scrub

DEFAULT_BASE_URL = "https://api.okendo.io/enterprise"
API_VERSION = "2025-02-01"
SUBSCRIPTIONS_PATH = "/webhook_subscriptions"
PAGE_LIMIT = 100  # Okendo's maximum page size
MAX_PAGES = 1000  # a runaway-pagination guard: 100,000 subscriptions is not a real account
SECRET_PREFIX = "whsec_"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
CREDENTIALS_HINT = (
    "check OKENDO_USER_ID and OKENDO_API_KEY (Okendo app: Settings > Integrations > API)"
)


# -- errors --------------------------------------------------------------------------------


class OkendoError(CallError):
    """Okendo refused the request, or answered something this client cannot use."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        may_have_succeeded: bool = False,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, status=status, retry_after=retry_after)
        self.may_have_succeeded = may_have_succeeded
        self.attempts = attempts


class OkendoAuthError(OkendoError):
    """401 / 403: the User ID / API key pair is wrong, revoked, or not allowed this call."""


class OkendoNotFoundError(OkendoError):
    """404: no such subscription (or path)."""


class OkendoTransientError(OkendoError):
    """429, 5xx or a connection problem that outlasted the in-call retries."""


# -- helpers -------------------------------------------------------------------------------


def find_signing_secret(obj: Any) -> str | None:
    """The first string starting with ``whsec_`` anywhere in ``obj`` (dicts and lists are
    searched depth-first, in order). The field's name in Okendo's answer is not confirmed."""
    if isinstance(obj, str):
        value = obj.strip()
        return value if value.startswith(SECRET_PREFIX) and len(value) > len(SECRET_PREFIX) else None
    if isinstance(obj, dict):
        children: Iterable[Any] = obj.values()
    elif isinstance(obj, (list, tuple)):
        children = obj
    else:
        return None
    for child in children:
        found = find_signing_secret(child)
        if found:
            return found
    return None


def check_base_url(base_url: str) -> str:
    """The base URL without a trailing slash; refuses anything but HTTPS, except plain HTTP
    to this machine (tests, demos, the emulator)."""
    parts = urlsplit(base_url or "")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"Okendo API base {base_url!r} is not a URL")
    if parts.scheme == "https" or (parts.scheme == "http" and host in LOCAL_HOSTS):
        return base_url.rstrip("/")
    raise ValueError(
        f"Okendo API base {base_url!r} must use https:// (the API key travels with every "
        "request); plain http:// is only allowed for 127.0.0.1 / localhost"
    )


def events_of(subscription: dict) -> list[str]:
    """``["review.create", ...]`` from a subscription's ``subscriptions`` list."""
    out = []
    for item in subscription.get("subscriptions") or []:
        if isinstance(item, dict):
            out.append(f"{item.get('resourceType', '?')}.{item.get('topic', '?')}")
    return out


def _body_message(response: requests.Response) -> str:
    """Okendo's own words from an error answer (JSON ``message``/``error``/``errors``), whole:
    the caller scrubs them before it cuts them (a credential cut in two would escape the scrub)."""
    text = response.text or ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "error", "errors", "detail", "title"):
            value = body.get(key)
            if value:
                text = value if isinstance(value, str) else json.dumps(value)
                break
    elif isinstance(body, str) and body:
        text = body
    return text


def _nothing_was_sent(exc: BaseException) -> bool:
    """True when the connection could not be opened, so the server never saw the request."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
        exc, requests.exceptions.ReadTimeout
    ):
        reason = getattr(exc.args[0], "reason", exc.args[0]) if exc.args else None
        return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    return False


class _Retryable(Exception):
    """Internal: one try failed in a way worth another try."""

    def __init__(self, error: OkendoTransientError) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = error.retry_after  # what `wait_for_server_hint_or` waits for


# -- the client ----------------------------------------------------------------------------


class OkendoClient:
    """Okendo Merchant REST API, webhook subscriptions. Safe to share between threads.

    ``sleep`` and ``clock`` drive both the pacing and the retry waits (tests pass fakes).
    """

    def __init__(
        self,
        user_id: str,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        version: str = API_VERSION,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        requests_per_second: float = 2.0,
        max_attempts: int = 4,
        max_retry_after: float = 30.0,
        connect_timeout: float = 3.0,
        read_timeout: float = 15.0,
    ) -> None:
        if not user_id or not api_key:
            raise ValueError(f"an Okendo User ID and API key are both required: {CREDENTIALS_HINT}")
        if requests_per_second <= 0:
            raise ValueError("requests_per_second must be > 0")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_url = check_base_url(base_url)
        self.user_id = user_id
        self._api_key = api_key
        self.version = version
        # The environment (proxies, CA bundle) read once per origin, as the Kustomer client does.
        self.session = session or EnvironmentOnceSession()
        self._sleep = sleep
        self._clock = clock
        self._interval = 1.0 / requests_per_second
        self._next_slot = float("-inf")
        self._lock = threading.Lock()
        self.max_attempts = max_attempts
        self.max_retry_after = max_retry_after
        self.timeout = (connect_timeout, read_timeout)

    def __repr__(self) -> str:  # never show the key
        return f"OkendoClient(user_id={self.user_id!r}, base_url={self.base_url!r})"

    # -- public calls ----------------------------------------------------------------------

    def list_subscriptions(self) -> list[dict]:
        """Every webhook subscription of the account, following ``nextUrl`` page by page."""
        found: list[dict] = []
        url = self._url(SUBSCRIPTIONS_PATH)
        params: dict[str, Any] | None = {"limit": PAGE_LIMIT}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            body = self._json(self._request("GET", url, params=params), "list")
            items = body.get("webhookSubscriptions")
            if not isinstance(items, list):
                raise OkendoError("Okendo's list answer has no webhookSubscriptions list")
            found.extend(item for item in items if isinstance(item, dict))
            next_url = self._next_page(body)
            if next_url is None:
                return found
            if next_url in seen:
                raise OkendoError("Okendo's pagination repeated a page; stopping")
            seen.add(next_url)
            url, params = next_url, None
        raise OkendoError(f"more than {MAX_PAGES} pages of webhook subscriptions; stopping")

    def create_subscription(
        self,
        endpoint_url: str,
        resources: list[tuple[str, str]],
        enabled: bool = True,
    ) -> dict:
        """Subscribe ``endpoint_url`` to ``(resourceType, topic)`` pairs. The answer is the new
        subscription and carries its signing secret (see :func:`find_signing_secret`)."""
        if not resources:
            raise ValueError("at least one (resourceType, topic) pair is required")
        body = {
            "endpointUrl": endpoint_url,
            "isEnabled": bool(enabled),
            "version": self.version,
            "subscriptions": [{"resourceType": r, "topic": t} for r, t in resources],
        }
        response = self._request("POST", self._url(SUBSCRIPTIONS_PATH), json=body, idempotent=False)
        return self._json(response, "create")

    def delete_subscription(self, subscription_id: str) -> None:
        """Delete one subscription by its ``webhookSubscriptionId``."""
        if not subscription_id:
            raise ValueError("a subscription id is required")
        # INFERRED path: Okendo's docs list a delete operation, but its path was not
        # confirmed; DELETE /webhook_subscriptions/{webhookSubscriptionId} follows the
        # REST conventions of the rest of the API (e.g. GET /reviews/{reviewId}).
        url = self._url(f"{SUBSCRIPTIONS_PATH}/{quote(subscription_id, safe='')}")
        try:
            self._request("DELETE", url)
        except OkendoNotFoundError as exc:
            if exc.attempts > 1:
                return  # an earlier, ambiguous try did delete it
            raise

    # -- plumbing --------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.base_url + path

    def _next_page(self, body: dict) -> str | None:
        """The absolute URL of the next page, or None when this was the last one."""
        next_url = body.get("nextUrl")
        if not next_url:
            cursor = body.get("lastEvaluated")
            if not cursor:
                return None
            cursor = cursor if isinstance(cursor, str) else json.dumps(cursor, separators=(",", ":"))
            return self._url(SUBSCRIPTIONS_PATH) + "?" + urlencode({"limit": PAGE_LIMIT, "lastEvaluated": cursor})
        if not isinstance(next_url, str):
            raise OkendoError("Okendo's nextUrl is not a string")
        base = urlsplit(self.base_url)
        parts = urlsplit(next_url)
        if parts.scheme or parts.netloc:
            if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
                # Never send the credentials to another host: keep only the cursor.
                cursor = parse_qs(parts.query).get("lastEvaluated")
                if not cursor:
                    raise OkendoError(f"Okendo's nextUrl points to another host ({parts.netloc})")
                return self._url(SUBSCRIPTIONS_PATH) + "?" + urlencode(
                    {"limit": PAGE_LIMIT, "lastEvaluated": cursor[0]})
            absolute = next_url
        elif next_url.startswith(base.path.rstrip("/") + "/") and base.path.strip("/"):
            # Already carries the base path (/enterprise/...): join with the origin only.
            absolute = urlunsplit((base.scheme, base.netloc, "", "", "")) + next_url
        else:
            # The documented form: a link relative to the base path ("/webhook_subscriptions?...").
            absolute = self.base_url + ("" if next_url.startswith("/") else "/") + next_url
        parts = urlsplit(absolute)
        query = parse_qs(parts.query, keep_blank_values=True)
        if "limit" not in query:
            query["limit"] = [str(PAGE_LIMIT)]
            absolute = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
        return absolute

    def _json(self, response: requests.Response, what: str) -> dict:
        try:
            body = response.json()
        except ValueError:
            raise OkendoError(
                f"Okendo's {what} answer (HTTP {response.status_code}) is not JSON", status=response.status_code
            ) from None
        if not isinstance(body, dict):
            raise OkendoError(f"Okendo's {what} answer is not a JSON object", status=response.status_code)
        return body

    def _scrub(self, text: str) -> str:
        return scrub(text, self._api_key, "***")

    def _pace(self) -> None:
        """Wait for this try's slot: starts are at least ``1/requests_per_second`` apart."""
        with self._lock:
            now = self._clock()
            at = max(now, self._next_slot)
            self._next_slot = at + self._interval
        if at > now:
            self._sleep(at - now)

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: dict | None = None,
        json: dict | None = None,
        idempotent: bool = True,
    ) -> requests.Response:
        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts:
                return True
            hint = state.outcome.exception().retry_after  # type: ignore[union-attr]
            return hint is not None and hint > self.max_retry_after

        retrying = Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, _Retryable)),
            # Retry-After obeyed exactly; else 0.5 s, 1 s, 2 s... capped at 4 s
            wait=wait_for_server_hint_or(wait_exponential(multiplier=0.5, max=4.0)),
            stop=stop,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._try(method, url, params, json, idempotent, attempt.retry_state.attempt_number)
        except _Retryable as exc:
            raise exc.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _try(
        self, method: str, url: str, params: dict | None, body: dict | None, idempotent: bool, attempt: int
    ) -> requests.Response:
        self._pace()
        what = f"{method} {urlsplit(url).path}"
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=body,
                auth=(self.user_id, self._api_key),
                headers={"okendo-api-version": self.version, "Accept": "application/json"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            unsent = _nothing_was_sent(exc)
            error = OkendoTransientError(
                f"could not reach Okendo for {what}: {type(exc).__name__}: {excerpt(self._scrub(str(exc)))}",
                may_have_succeeded=not unsent and not idempotent,
                attempts=attempt,
            )
            if idempotent or unsent:
                raise _Retryable(error) from exc
            error.message += _maybe_created_hint()
            raise error from exc

        status = response.status_code
        if status < 300:
            return response
        message = excerpt(self._scrub(_body_message(response)))
        detail = f": {message}" if message else ""
        if status in (401, 403):
            plan = "; webhooks also need Okendo's Advanced plan or above" if status == 403 else ""
            raise OkendoAuthError(
                f"Okendo refused the credentials (HTTP {status}) for {what}{detail}. "
                f"{CREDENTIALS_HINT[0].upper()}{CREDENTIALS_HINT[1:]}{plan}.",
                status=status,
                attempts=attempt,
            )
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            kind = "is rate limiting this account" if status == 429 else "had a server error"
            error = OkendoTransientError(
                f"Okendo {kind} (HTTP {status}) for {what}{detail}"
                + (f"; try again in {retry_after:.0f} s" if retry_after else ""),
                status=status,
                retry_after=retry_after,
                may_have_succeeded=status != 429 and not idempotent,
                attempts=attempt,
            )
            if idempotent or status == 429:
                raise _Retryable(error)
            error.message += _maybe_created_hint()
            raise error
        if status == 404:
            raise OkendoNotFoundError(f"Okendo found nothing at {what} (HTTP 404){detail}", status=status,
                                      attempts=attempt)
        if status < 400:
            raise OkendoError(f"Okendo answered {what} with a redirect (HTTP {status}); not followed",
                              status=status, attempts=attempt)
        raise OkendoError(f"Okendo refused {what} (HTTP {status}){detail}", status=status, attempts=attempt)


def _maybe_created_hint() -> str:
    return (
        ". Okendo may or may not have acted on it: run `bridge okendo list` before trying again "
        "(`bridge okendo subscribe` will not create a duplicate for the same URL)"
    )
