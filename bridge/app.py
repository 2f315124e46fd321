"""The Flask app factory (the Flask tutorial's pattern)."""
from __future__ import annotations

from flask import Flask, jsonify

from bridge import admin
from bridge.composition import build_runtime
from bridge.config import Settings
from bridge.web import health, http_hardening, ingest, ingest_wsgi, metrics, requestlog


def create_app(settings: Settings | None = None, runtime=None) -> Flask:
    settings = settings or (runtime.settings if runtime else Settings.from_env())
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key or None, MAX_CONTENT_LENGTH=settings.max_body_bytes + 1)
    app.extensions["bridge"] = runtime or build_runtime(settings)

    app.register_blueprint(ingest.bp)
    app.register_blueprint(health.bp)
    requestlog.init_app(app)  # request ids and one log line per request, for every route
    metrics.init_app(app)
    admin.init_app(app)
    http_hardening.init_app(app)
    ingest_wsgi.install(app)  # POST /webhooks/okendo without Flask's request cycle (it says why)

    @app.errorhandler(413)
    def too_large(_error):
        return jsonify(error="payload too large", limit_bytes=settings.max_body_bytes), 413

    return app
