"""Small answers that must not be turned against the bridge by what a client sends.

* A redirect Werkzeug makes itself (``/admin`` -> ``/admin/``) is built from the
  request's ``Host`` header, so ``Host: evil.example`` got ``Location:
  http://evil.example/admin/`` (useful for cache poisoning and phishing links). It is
  answered with a relative ``Location`` instead.
* The session cookie (it carries the CSRF token and the remembered admin login) gets
  ``Secure`` whenever the request came over HTTPS (directly, or as said by a trusted
  proxy's ``X-Forwarded-Proto``, see :mod:`bridge.web.hosting`), without breaking plain
  HTTP on a developer's machine. Webhooks get no session at all (nothing reads one there).

Failure policy: nothing here raises; each piece only changes headers.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface


NO_SESSION_PREFIX = "/webhooks/"


class SessionOverHttps(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request):
        # Okendo's webhooks never carry or use a session: building the cookie's signing
        # serializer for each of them cost ~0.1 ms (issue 16). Flask gives them its null
        # session, which is never saved.
        if request.path.startswith(NO_SESSION_PREFIX):
            return None
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        try:
            return bool(request.is_secure) or super().get_cookie_secure(app)
        except RuntimeError:  # outside a request
            return super().get_cookie_secure(app)


def _relative_location(response):
    """Flask answers routing redirects itself (no error handler sees them), so the
    Location is rewritten on the way out: one that names the request's own Host loses
    its scheme and host."""
    location = response.headers.get("Location")
    if location:
        parts = urlsplit(location)
        if parts.netloc and parts.netloc == request.host:
            response.headers["Location"] = parts.path + (f"?{parts.query}" if parts.query else "")
    return response


def init_app(app: Flask) -> None:
    app.session_interface = SessionOverHttps()
    app.after_request(_relative_location)
