"""The console's Alerts page: each condition's state, the channels, the last messages,
refused signatures, and a "send a test alert" button.

The button does not send from the web request (a slow SMTP server would hold a gunicorn
thread for up to ALERT_SEND_TIMEOUT per channel): it adds a test message to the outbox,
one INSERT, and the worker's alert thread sends it within a few seconds. The page then
shows whether it went out, or the channel's error. `bridge alerts test` sends at once
and prints the result, for a shell.
"""
from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, url_for

from bridge.admin.views import bp, runtime
from bridge.alerts import outbox, state_store
from bridge.alerts.conditions import CONDITIONS
from bridge.alerts.service import Alerts
from bridge.events.models import utcnow


@bp.get("/alerts")
def alerts_page():
    settings = runtime().settings.alerts
    service = Alerts(runtime().db, settings)
    with runtime().db.session() as session:
        states = state_store.states_by_key(session)
        messages = outbox.recent(session, limit=30)
        refused = state_store.refused_since(session, utcnow() - timedelta(hours=1))
    conditions = [dict(key=key, title=title, state=states.get(key)) for key, (title, _) in CONDITIONS.items()]
    return render_template("admin/alerts.html", conditions=conditions, messages=messages, refused=int(refused),
                           channels=[c.describe() for c in service.channels.values()], settings=settings)


@bp.post("/alerts/test")
def alerts_test():
    service = Alerts(runtime().db, runtime().settings.alerts)
    if not service.channels:
        flash("No alert channel is configured: set ALERT_SLACK_WEBHOOK_URL and/or ALERT_EMAIL_TO with SMTP "
              "settings (see the README's Alerts section).", "error")
    else:
        service.queue_test()
        flash("A test alert is queued. The worker sends it within a few seconds: reload this page to see "
              "whether it went out.", "ok")
    return redirect(url_for("admin.alerts_page"), 303)
