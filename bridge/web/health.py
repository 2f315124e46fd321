"""Liveness and readiness probes."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 whenever the process can answer at all."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """200 when the database takes a write and the queue answers; 503 (with which one failed) otherwise."""
    runtime = current_app.extensions["bridge"]
    checks = {}
    try:
        with runtime.db.engine.connect() as connection:
            # What ingest needs is a write: a read-only store (a PostgreSQL follower, a
            # database set read-only, SQLite query_only) answers SELECT but refuses this,
            # even though it changes no row. The transaction is rolled back on exit.
            connection.execute(text("UPDATE events SET id = id WHERE 1 = 0"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"error: {type(exc).__name__}"
    checks["queue"] = "ok" if runtime.dispatcher.ping() else "error"
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503
