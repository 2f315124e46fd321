"""The console's Kustomer timeline page, /admin/kustomer/timeline: set up the card types.

A button runs what `bridge kustomer setup-timeline` runs, for each Kustomer org the live
mapping uses, and shows its report (created, found, or refused with the missing role and
the steps to create the klasses by hand). Behind the admin blueprint's auth and CSRF.
Failure policy: Kustomer's answers become lines of the report, never a 500; the API key is
never shown.
"""
from __future__ import annotations

from flask import render_template

from bridge.admin.views import bp, runtime
from bridge.timeline.klasses import KLASSES
from bridge.timeline.setup import setup_for_target


@bp.get("/kustomer/timeline")
def timeline_setup():
    return render_template("admin/timeline.html", klasses=KLASSES, reports=None,
                           routes=_timeline_routes())


@bp.post("/kustomer/timeline")
def timeline_setup_run():
    live = getattr(runtime(), "live", None)
    if live is not None:
        live.refresh()  # a key saved on the setup page a moment ago
    reports = []
    for store_id, target in runtime().mappings.current().kustomer_orgs():
        report = setup_for_target(target)
        reports.append((f"store {store_id}" if store_id else "all stores", report.ok, report.lines))
    # A klass made just now is noticed by this process at once, by the worker within a minute.
    runtime().processor.timeline.catalog.forget()
    return render_template("admin/timeline.html", klasses=KLASSES, reports=reports,
                           routes=_timeline_routes())


def _timeline_routes() -> list[str]:
    return [route.name for route in runtime().mappings.current().routes if not route.is_hook]
