"""HTTP Basic authentication for the admin console.

Credentials: `ADMIN_USERNAME` with `ADMIN_PASSWORD`, or with `ADMIN_PASSWORD_HASH`
(a werkzeug `generate_password_hash` string, which wins when both are set).

Failure policy: closed, never open. No username or no password configured -> every
admin route answers 503 saying what to set; missing or wrong credentials -> 401 with
a `WWW-Authenticate` challenge. Comparisons are constant-time, and the username is
compared even when the password is wrong (and vice versa), so timing tells nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import threading

from flask import Response, current_app, request
from werkzeug.security import check_password_hash

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


def require_admin() -> Response | None:
    """`before_request` of the admin blueprint: None lets the request through."""
    creds = credentials()
    if not creds.configured:
        return Response(DISABLED_MESSAGE + "\n", 503, mimetype="text/plain")
    auth = request.authorization
    if auth is None or auth.type != "basic" or not creds.check(auth.username or "", auth.password or ""):
        return Response("authentication required\n", 401, mimetype="text/plain",
                        headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'})
    return None
