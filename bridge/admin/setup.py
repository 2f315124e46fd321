"""The console's setup page (`/admin/setup`): connect Okendo and Kustomer from the browser.

A bridge deployed with only ADMIN_PASSWORD (and SECRET_KEY) boots and shows this page. The
admin pastes the Okendo user id and API key (the bridge subscribes its own URL and keeps the
signing secret) and the Kustomer key and hook URLs (the bridge runs `bridge kustomer check`'s
checks and shows them). Values are stored encrypted (`bridge.setup`), shown only as their
last 4 characters, and never written to logs. Environment variables win: the page says where
each value in use comes from.

Routes sit on the admin blueprint, so HTTP Basic auth and CSRF apply as everywhere else.
Failure policy: Okendo and Kustomer errors are shown on the page (400), never a 500; without
SECRET_KEY nothing can be stored and the page says so.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import current_app, flash, redirect, render_template, request, url_for

from bridge.admin.views import bp
from bridge.mapping import MappingError
from bridge.mapping.model import default_kustomer_target
from bridge.okendo.api import OkendoError
from bridge.setup import stored
from bridge.setup.kustomer_connect import check_all
from bridge.setup.live import CONSOLE
from bridge.setup.okendo_connect import GRACE, connect, rotate
from bridge.setup.vault import VaultError

log = logging.getLogger(__name__)
KUSTOMER_FIELDS = ("KUSTOMER_API_KEY", "KUSTOMER_API_BASE", "KUSTOMER_REVIEW_HOOK_URL", "KUSTOMER_SURVEY_HOOK_URL")


def _runtime():
    return current_app.extensions["bridge"]


def needs_setup(live) -> bool:
    """Nothing connected yet: the console opens on the setup page."""
    return not live.webhook_secrets() and not default_kustomer_target(live).api_key


def last4(value: str | None) -> str:
    if not value:
        return ""
    return "…" + value[-4:] if len(value) > 8 else "…"


def _rows(live) -> list[dict]:
    rows = []
    for name, (label, secret) in stored.STORABLE.items():
        value = live.get(name)
        if name == stored.WEBHOOK_SECRET:
            value = ", ".join(last4(s) for s in live.webhook_secrets()) or None
        elif secret:
            value = last4(value) or None
        rows.append({"name": name, "label": label, "source": live.source(name), "shown": value})
    return rows


def _signing_secrets(live) -> list[dict]:
    if live.source(stored.WEBHOOK_SECRET) != CONSOLE:
        return []
    now = datetime.now(timezone.utc)
    return [{"shown": last4(s.secret), "valid_until": s.valid_until, "active": s.active(now)}
            for s in stored.parse_secrets(live.stored().get(stored.WEBHOOK_SECRET, ""))]


def public_url(live) -> str:
    """Where Okendo should send webhooks: BRIDGE_PUBLIC_URL, else the address this page was
    opened at (Heroku's router passes the https scheme on, gunicorn trusts it)."""
    return (_runtime().settings.public_url or request.host_url).rstrip("/")


def _page(status: int = 200, checks=None, check_error: str | None = None):
    live = _runtime().live
    live.refresh()
    return render_template(
        "admin/setup.html", rows=_rows(live), problems=live.problems, vault=live.vault.available,
        public_url=public_url(live), okendo_env=live.source(stored.WEBHOOK_SECRET) == "environment",
        connected=bool(live.webhook_secrets()), subscription_id=live.get(stored.SUBSCRIPTION_ID),
        can_rotate=bool(live.get("OKENDO_USER_ID") and live.get("OKENDO_API_KEY")),
        okendo_user_id=live.get("OKENDO_USER_ID") or "", secrets=_signing_secrets(live),
        kustomer={name: live.source(name) for name in KUSTOMER_FIELDS},
        kustomer_base=live.get("KUSTOMER_API_BASE") or "", checks=checks, check_error=check_error,
    ), status


@bp.get("/setup")
def setup():
    return _page()


@bp.post("/setup/okendo")
def setup_okendo():
    user_id, api_key = request.form.get("user_id", "").strip(), request.form.get("api_key", "").strip()
    if not user_id or not api_key:
        flash("Paste both the Okendo user id and the API key (Okendo app: Settings > Integrations > API).", "error")
        return _page(400)
    return _okendo_action(lambda live: connect(_runtime().db, live.vault, live, user_id, api_key,
                                               _public_url_from_form(live)), "Okendo connected")


@bp.post("/setup/okendo/rotate")
def setup_okendo_rotate():
    hours = int(GRACE.total_seconds() // 3600)
    return _okendo_action(lambda live: rotate(_runtime().db, live.vault, live, _public_url_from_form(live)),
                          f"New Okendo signing secret in use; the old one stays valid for {hours} hours")


def _public_url_from_form(live) -> str:
    typed = request.form.get("public_url", "").strip()
    return typed if typed.startswith(("https://", "http://")) else public_url(live)


def _okendo_action(action, done: str):
    live = _runtime().live
    if live.source(stored.WEBHOOK_SECRET) == "environment":
        flash("OKENDO_WEBHOOK_SECRET is set in the environment and wins over anything stored here: "
              "unset it first (heroku config:unset OKENDO_WEBHOOK_SECRET) to manage Okendo on this page.", "error")
        return _page(400)
    try:
        result = action(live)
    except (OkendoError, VaultError, ValueError) as exc:
        log.warning("setup: Okendo connection failed: %s", exc)
        flash(f"Okendo: {exc}", "error")
        return _page(400)
    message = f"{done}: subscription {result.subscription_id} sends to {result.endpoint}."
    if result.replaced:
        message += f" Replaced subscription {', '.join(result.replaced)}."
    if result.not_deleted:
        message += (f" Could not delete the old subscription {', '.join(result.not_deleted)}: delete it with "
                    "`bridge okendo delete` once its deliveries are over, or events arrive twice (stored once).")
    flash(message, "ok")
    return redirect(url_for("admin.setup"))


@bp.post("/setup/kustomer")
def setup_kustomer():
    """Store what was typed (a blank field keeps the stored value), then check it all."""
    live = _runtime().live
    typed = {name: request.form.get(name, "").strip() for name in KUSTOMER_FIELDS}
    changes = {name: value.rstrip("/") if name == "KUSTOMER_API_BASE" else value
               for name, value in typed.items() if value}
    shadowed = [name for name in changes if live.source(name) == "environment"]
    if shadowed:
        flash(f"{', '.join(shadowed)} {'is' if len(shadowed) == 1 else 'are'} set in the environment, which wins "
              "over what is stored here: the stored value will only be used once the variable is unset.", "error")
    if changes:
        try:
            with _runtime().db.session() as session:
                stored.write(session, live.vault, changes)
        except VaultError as exc:
            flash(str(exc), "error")
            return _page(400)
        flash(f"Saved {', '.join(stored.STORABLE[n][0] for n in changes)}.", "ok")
    return _check()


@bp.post("/setup/kustomer/check")
def setup_kustomer_check():
    return _check()


def _check():
    live = _runtime().live
    live.refresh()
    try:
        results = check_all(_runtime().mappings.current())
    except MappingError as exc:
        return _page(400, check_error=f"the mapping has errors; fix them first:\n{exc}")
    return _page(checks=results)
