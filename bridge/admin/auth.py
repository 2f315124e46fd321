"""HTTP Basic authentication for the admin console.

Credentials: `ADMIN_USERNAME` with `ADMIN_PASSWORD`, or with `ADMIN_PASSWORD_HASH`
(a werkzeug `generate_password_hash` string, which wins when both are set).

Failure policy: closed, never open. No username or no password configured -> every
admin route answers 503 saying what to set; missing or wrong credentials -> 401 with
a `WWW-Authenticate` challenge. Comparisons are constant-time, and the username is
compared even when the password is wrong (and vice versa), so timing tells nothing.

Cost (issue 13): a login that passed is remembered in the signed session cookie for
`REMEMBER_SECONDS` (bound to the configured credentials, so changing them ends it),
so the hash runs once per session, not once per request. Before any hash, the login
limit (`login_limit`) may answer 429. Failed logins are logged with the client's
address and the username tried.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time

from flask import Response, current_app, request, session
from werkzeug.security import check_password_hash

from bridge.web import hosting

log = logging.getLogger(__name__)
REMEMBER_SECONDS = 15 * 60
SESSION_KEY = "admin_login"

REALM = "okendo-bridge admin"
DISABLED_MESSAGE = "admin console disabled: set ADMIN_USERNAME and ADMIN_PASSWORD"


class Credentials:
    """The configured login, checked without leaking timing."""

    def __init__(self, username: str | None, password: str | None, password_hash: str | None):
        self.username = username or None
        self.password = password or None
        self.password_hash = password_hash or None
        # A werkzeug hash costs ~0.3 s to check (that is its point); Basic auth sends the
        # password with every request, CSS included. Remember digests of logins that
        # passed, in this process only, so the cost is paid once per password.
        self._verified: set[bytes] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> "Credentials":
        return cls(settings.admin_username, settings.admin_password,
                   settings.raw.get("ADMIN_PASSWORD_HASH"))

    @property
    def configured(self) -> bool:
        return bool(self.username and (self.password or self.password_hash))

    def check(self, username: str, password: str) -> bool:
        if not self.configured:
            return False
        user_ok = hmac.compare_digest(username.encode(), self.username.encode())
        return self._password_ok(password) and user_ok

    def already_verified(self, username: str, password: str) -> bool:
        """Cheap: whether this process verified this login before (no hash computed)."""
        if not (self.configured and self.password_hash):
            return False
        user_ok = hmac.compare_digest(username.encode(), self.username.encode())
        return hashlib.sha256(password.encode()).digest() in self._verified and user_ok

    def session_mark(self, secret_key: str, username: str, password: str) -> str:
        """What the session remembers of a login: a keyed digest of it and of the
        configured credentials (never the password; useless without SECRET_KEY)."""
        material = "\0".join((self.password_hash or self.password or "", username, password)).encode()
        return hmac.new(str(secret_key).encode(), material, hashlib.sha256).hexdigest()

    def _password_ok(self, password: str) -> bool:
        if not self.password_hash:
            return hmac.compare_digest(password.encode(), self.password.encode())
        digest = hashlib.sha256(password.encode()).digest()
        if digest in self._verified:
            return True
        if not check_password_hash(self.password_hash, password):
            return False
        with self._lock:
            if len(self._verified) >= 8:  # only ever a handful of valid passwords
                self._verified.clear()
            self._verified.add(digest)
        return True


def credentials() -> Credentials:
    return current_app.extensions["bridge.admin.credentials"]


def limiter():
    return current_app.extensions["bridge.admin.login_limit"]


def client_address() -> str:
    settings = current_app.extensions["bridge"].settings
    return hosting.client_ip(request.environ, hosting.forwarded_allow_ips(settings.raw))


def require_admin() -> Response | None:
    """`before_request` of the admin blueprint: None lets the request through."""
    creds = credentials()
    if not creds.configured:
        return Response(DISABLED_MESSAGE + "\n", 503, mimetype="text/plain")
    auth = request.authorization
    if auth is None or auth.type != "basic":
        return _challenge()
    username, password = auth.username or "", auth.password or ""
    if _remembered(creds, username, password) or creds.already_verified(username, password):
        return None
    client = client_address()
    wait = limiter().retry_after(client)
    if wait is not None:  # before the hash: a refused guess costs nothing
        log.warning("admin login refused (too many failed logins) for user %r from %s", username, client)
        return Response("too many failed logins; try again later\n", 429, mimetype="text/plain",
                        headers={"Retry-After": str(wait)})
    if not creds.check(username, password):
        limiter().failed(client)
        log.warning("admin login failed for user %r from %s", username, client)
        return _challenge()
    _remember(creds, username, password)
    return None


def _challenge() -> Response:
    return Response("authentication required\n", 401, mimetype="text/plain",
                    headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'})


def _remembered(creds: Credentials, username: str, password: str) -> bool:
    mark = session.get(SESSION_KEY)
    if not isinstance(mark, dict) or not isinstance(mark.get("until"), (int, float)) or mark["until"] < time.time():
        return False
    expected = creds.session_mark(current_app.secret_key, username, password)
    return hmac.compare_digest(str(mark.get("mark", "")), expected)


def _remember(creds: Credentials, username: str, password: str) -> None:
    session[SESSION_KEY] = {"mark": creds.session_mark(current_app.secret_key, username, password),
                            "until": int(time.time()) + REMEMBER_SECONDS}
