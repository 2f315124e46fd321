"""The admin console under `/admin`: server-rendered pages, no JavaScript.

`init_app(app)` registers the blueprint with, in this order for every admin request:
HTTP Basic auth (`auth.require_admin`), then CSRF on POSTs (Flask-WTF), and on every
admin response the security headers and the secret scrub (`redaction`).

Failure policy: closed. No admin password configured -> 503 on every admin route;
bad or missing credentials -> 401; a POST without a valid CSRF token -> 400. CSRF is
checked for the admin blueprint only: `POST /webhooks/okendo` is proven by its
signature and must never need a token.

Without `SECRET_KEY`, sessions (which hold the CSRF token) are signed with a key
derived from the admin password: stable across gunicorn processes and dynos, unlike a
random one, and secret as long as the password is. A warning says to set SECRET_KEY.
"""
from __future__ import annotations

import hashlib
import hmac
import logging

from flask import Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from bridge.admin import auth, formatting, login_limit, redaction
from bridge.admin import setup as _setup_page  # noqa: F401 - registers /admin/setup on the blueprint
from bridge.admin import mapping_views  # noqa: F401,E402 - registers /admin/mapping on bp
from bridge.admin import timeline_views  # noqa: F401,E402 - registers /admin/kustomer/timeline on bp
from bridge.admin import alerts_page  # noqa: F401,E402 - registers /admin/alerts on bp
from bridge.admin.views import bp

log = logging.getLogger(__name__)
csrf = CSRFProtect()

SECURITY_HEADERS = {
    # No script at all; styles only from /admin/style.css; forms post only to us.
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def init_app(app: Flask) -> None:
    settings = app.extensions["bridge"].settings
    creds = auth.Credentials.from_settings(settings)
    app.extensions["bridge.admin.credentials"] = creds
    app.extensions["bridge.admin.login_limit"] = login_limit.LoginLimiter()
    app.extensions["bridge.admin.secrets"] = redaction.secret_values(settings.raw)
    _ensure_secret_key(app, creds)
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"  # a second guard against cross-site posts
    # CSRFProtect checks nothing by itself app-wide; the admin blueprint asks for it.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    _register_template_helpers(app)
    app.register_blueprint(bp)


@bp.before_request
def _authenticate_then_check_csrf():
    refused = auth.require_admin()
    if refused is not None:
        return refused  # 401/503 before CSRF, so a stranger learns nothing about forms
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    return None


@bp.errorhandler(CSRFError)
def _csrf_failed(error: CSRFError):
    return render_template("admin/error.html", title="Form expired or forged",
                           message=f"{error.description} Reload the page and try again."), 400


@bp.after_request
def _harden(response):
    response.headers.update(SECURITY_HEADERS)
    if response.mimetype == "text/html" and not response.direct_passthrough:
        secrets = current_app.extensions["bridge.admin.secrets"]
        live = current_app.extensions["bridge"].live
        if live is not None:  # values stored on the setup page are secrets too
            secrets = {**redaction.secret_values(live.stored()), **secrets}
        text = response.get_data(as_text=True)
        cleaned = redaction.scrub(text, secrets)
        if cleaned != text:
            response.set_data(cleaned)
    return response


def _ensure_secret_key(app: Flask, creds: auth.Credentials) -> None:
    if app.secret_key or not creds.configured:
        return
    material = (creds.password_hash or creds.password).encode()
    app.secret_key = hmac.new(material, b"okendo-bridge admin session key v1", hashlib.sha256).hexdigest()
    log.warning("SECRET_KEY is not set: admin sessions use a key derived from the admin password; "
                "set SECRET_KEY to a random value")


def _register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters.update(formatting.FILTERS)
