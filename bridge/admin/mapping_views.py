"""The console's mapping editor under /admin/mapping: draft, form, impact, publish, history.

Routes live on the admin blueprint, so HTTP Basic auth and CSRF (see ``bridge.admin``)
guard every one of them; the author of a draft or a version is the logged-in admin.

* ``/admin/mapping``: the draft (or the live text when there is none) in a text area;
  each problem is listed with its line and column next to a numbered copy of the text.
  Saving a draft never changes what runs.
* ``/admin/mapping/settings``: a form for the common settings; it rewrites the draft's
  YAML with comments kept (:mod:`bridge.mapping.form`).
* ``/admin/mapping/impact``: what the draft would have done to the last N stored events.
* ``/admin/mapping/publish``: a confirmation page with the diff against live; publishing
  needs a change note and goes through :func:`bridge.mapping.versions.publish`, which
  refuses an invalid text.
* ``/admin/mapping/history``: every version (who, when, note, diff) with rollback, and
  the audit list.

Failure policy: a bad draft is shown with its problems, never a 500; with
``BRIDGE_MAPPING_SOURCE=file`` the pages show the file and every write answers 409 with
what to do instead.
"""
from __future__ import annotations

import hashlib

from flask import abort, flash, redirect, render_template, request, url_for

from bridge.admin.views import bp, runtime
from bridge.mapping import MappingError, versions
from bridge.mapping.form import NPS_CATEGORIES, SENTIMENTS, FormError, apply_settings, read_settings, \
    settings_from_form
from bridge.mapping.impact import DEFAULT_EVENTS, MAX_EVENTS, clamp, impact_preview
from bridge.mapping.loader import read_mapping_file

DRAFT_SOURCE = "draft"


def _author() -> str:
    return request.authorization.username if request.authorization else "admin"


def _env():
    """The environment, then the console's stored settings (what the processes resolve ${VAR}s with)."""
    return getattr(runtime(), "live", None) or runtime().settings.raw


def _file_mode() -> bool:
    return runtime().settings.mapping_source == "file"


def _refuse_in_file_mode():
    if _file_mode():
        abort(409, description=("BRIDGE_MAPPING_SOURCE=file: the live mapping is the file "
                                f"{runtime().settings.mapping_path}; change it in git and deploy."))


def _live_row():
    """The live version, seeding version 1 from the file on a fresh database."""
    try:
        return versions.seed_from_file(runtime().db, runtime().settings.mapping_path, _env())
    except MappingError:
        return None


def _live_text() -> tuple[str, str]:
    if _file_mode():
        try:
            return read_mapping_file(runtime().settings.mapping_path), runtime().settings.mapping_path
        except MappingError:
            return "", runtime().settings.mapping_path
    row = _live_row()
    return (row.yaml_text, f"version {row.id}") if row else ("", "no live version")


def _draft():
    with runtime().db.session() as session:
        return versions.draft(session)


def _working_text() -> tuple[str, bool]:
    """The draft's text, or the live text when there is no draft; and whether it is a draft."""
    draft = _draft()
    if draft is not None:
        return draft.yaml_text, True
    return _live_text()[0], False


def check_text(text: str) -> dict:
    """Problems (with line and column) and warnings of a text, for the templates."""
    try:
        mapping = versions.validate(text, DRAFT_SOURCE, _env())
    except MappingError as error:
        return {"valid": False, "mapping": None, "problems": error.problems, "warnings": []}
    return {"valid": True, "mapping": mapping, "problems": [], "warnings": list(mapping.warnings)}


def draft_mapping():
    """The draft's Mapping (the live one when there is no draft); MappingError when invalid."""
    text, _ = _working_text()
    return versions.validate(text, DRAFT_SOURCE, _env())


def numbered(text: str, problems) -> list[dict]:
    """The text's lines with the problems that point at each (for the side-by-side view)."""
    by_line: dict[int, list] = {}
    for problem in problems:
        by_line.setdefault(problem.line, []).append(problem)
    return [{"number": number, "text": line, "problems": by_line.get(number, [])}
            for number, line in enumerate(text.splitlines() or [""], 1)]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- editor ------------------------------------------------------------------------------
@bp.get("/mapping")
def mapping_editor():
    text, is_draft = _working_text()
    checked = check_text(text) if text else {"valid": False, "mapping": None, "problems": [], "warnings": []}
    draft = _draft()
    live_text, live_label = _live_text()
    return render_template("admin/mapping.html", text=text, is_draft=is_draft, draft=draft, checked=checked,
                           lines=numbered(text, checked["problems"]), live_label=live_label,
                           differs=text != live_text, file_mode=_file_mode(),
                           mapping_path=runtime().settings.mapping_path)


@bp.post("/mapping/draft")
def mapping_save_draft():
    _refuse_in_file_mode()
    if request.form.get("action") == "discard":
        versions.discard_draft(runtime().db)
        flash("Draft discarded; the editor shows the live version.", "ok")
        return redirect(url_for("admin.mapping_editor"), 303)
    text = request.form.get("yaml", "").replace("\r\n", "\n")
    row = _live_row()
    versions.save_draft(runtime().db, text, _author(), row.id if row else None)
    checked = check_text(text)
    if checked["valid"]:
        flash("Draft saved. It is not live: preview its impact, then publish it.", "ok")
    else:
        flash(f"Draft saved with {len(checked['problems'])} problem(s); it cannot be published until they"
              " are fixed.", "error")
    return redirect(url_for("admin.mapping_editor"), 303)


@bp.post("/mapping/versions/<int:number>/draft")
def mapping_draft_from_version(number: int):
    _refuse_in_file_mode()
    with runtime().db.session() as session:
        row = versions.get(session, number)
    if row is None:
        abort(404, description=f"no version {number}")
    live = _live_row()
    versions.save_draft(runtime().db, row.yaml_text, _author(), live.id if live else None)
    flash(f"The draft now starts from version {number}.", "ok")
    return redirect(url_for("admin.mapping_editor"), 303)


# -- common settings form ------------------------------------------------------------------
@bp.route("/mapping/settings", methods=["GET", "POST"])
def mapping_settings():
    text, _ = _working_text()
    error = None
    if request.method == "POST":
        _refuse_in_file_mode()
        try:
            new_text = apply_settings(text, settings_from_form(request.form))
        except FormError as exc:
            error = str(exc)
        else:
            row = _live_row()
            versions.save_draft(runtime().db, new_text, _author(), row.id if row else None)
            flash("Settings written into the draft (comments kept). Review it, preview its impact, then publish.",
                  "ok")
            return redirect(url_for("admin.mapping_editor"), 303)
    try:
        values = read_settings(text)
    except FormError as exc:
        values, error = None, error or str(exc)
    return render_template("admin/mapping_settings.html", values=values, error=error, sentiments=SENTIMENTS,
                           nps_categories=NPS_CATEGORIES, file_mode=_file_mode())


# -- impact ------------------------------------------------------------------------------
@bp.get("/mapping/impact")
def mapping_impact():
    limit = clamp(request.args.get("events", DEFAULT_EVENTS))
    text, is_draft = _working_text()
    checked = check_text(text)
    result = None
    live_problem = None
    if checked["valid"]:
        try:
            live = runtime().mappings.current()
        except MappingError as error:
            live_problem = "; ".join(str(problem) for problem in error.problems)
        else:
            result = impact_preview(runtime().db, live, checked["mapping"], limit)
    return render_template("admin/mapping_impact.html", result=result, checked=checked, limit=limit,
                           max_events=MAX_EVENTS, is_draft=is_draft, live_problem=live_problem)


# -- publish -----------------------------------------------------------------------------
@bp.route("/mapping/publish", methods=["GET", "POST"])
def mapping_publish():
    _refuse_in_file_mode()
    draft = _draft()
    if draft is None:
        flash("There is no draft to publish: edit and save one first.", "error")
        return redirect(url_for("admin.mapping_editor"), 303)
    live = _live_row()
    live_text = live.yaml_text if live else ""
    checked = check_text(draft.yaml_text)
    note = (request.form.get("note") or "").strip()
    problem = None
    if request.method == "POST":
        if request.form.get("digest") != _digest(draft.yaml_text):
            problem = "The draft changed since this page was shown; review the diff again."
        elif not note:
            problem = "A change note is required: say what changed and why."
        elif request.form.get("confirm") != "yes":
            problem = "Tick the confirmation box to publish."
        else:
            try:
                result = versions.publish(runtime().db, draft.yaml_text, author=_author(), note=note, env=_env(),
                                          source=DRAFT_SOURCE)
            except MappingError as error:
                checked = {"valid": False, "mapping": None, "problems": error.problems, "warnings": []}
                problem = "The draft is not valid; it was not published."
            except versions.PublishError as error:
                problem = str(error)
            else:
                versions.discard_draft(runtime().db)
                if result.changed:
                    flash(f"Published version {result.version.id}. Every process uses it within a few seconds.",
                          "ok")
                else:
                    flash(f"The draft is the same as the live version {result.version.id}; nothing published.",
                          "ok")
                return redirect(url_for("admin.mapping_history"), 303)
    diff = versions.diff_lines(live_text, draft.yaml_text, f"version {live.id} (live)" if live else "live",
                               "draft")
    return render_template("admin/mapping_publish.html", draft=draft, live=live, diff=diff, checked=checked,
                           note=note, problem=problem, digest=_digest(draft.yaml_text),
                           stale=live is not None and draft.base_version not in (None, live.id)), \
        (400 if problem else 200)


# -- history and rollback -------------------------------------------------------------------
@bp.get("/mapping/history")
def mapping_history():
    if not _file_mode():
        _live_row()
    with runtime().db.session() as session:
        rows = versions.history(session)
        audit = versions.audit_list(session, 100)
    return render_template("admin/mapping_history.html", rows=rows, audit=audit, file_mode=_file_mode())


@bp.get("/mapping/versions/<int:number>")
def mapping_version(number: int):
    with runtime().db.session() as session:
        row = versions.get(session, number)
        previous = versions.get(session, row.replaces_id) if row is not None and row.replaces_id else None
        live_id = versions.live_version_id(session)
    if row is None:
        abort(404, description=f"no version {number}")
    diff = versions.diff_lines(previous.yaml_text if previous else "", row.yaml_text,
                               f"version {previous.id}" if previous else "(nothing)", f"version {row.id}")
    return render_template("admin/mapping_version.html", row=row, diff=diff, live_id=live_id,
                           file_mode=_file_mode())


@bp.post("/mapping/versions/<int:number>/rollback")
def mapping_rollback(number: int):
    _refuse_in_file_mode()
    try:
        result = versions.rollback(runtime().db, number, author=_author(),
                                   note=(request.form.get("note") or "").strip() or None, env=_env())
    except MappingError as error:
        flash(f"Version {number} does not load any more, so it was not republished: "
              + "; ".join(str(problem) for problem in error.problems[:3]), "error")
        return redirect(url_for("admin.mapping_version", number=number), 303)
    except versions.PublishError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.mapping_history"), 303)
    if result.changed:
        flash(f"Rolled back: version {result.version.id} is live with the text of version {number}.", "ok")
    else:
        flash(f"Version {number}'s text is already live.", "ok")
    return redirect(url_for("admin.mapping_history"), 303)
