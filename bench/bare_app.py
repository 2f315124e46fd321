"""The ceiling for the ingest benchmark: a bare Flask endpoint under the same gunicorn.

It does what the HTTP stack must do for any webhook and nothing the bridge adds: read
the body, answer 202 with a small JSON. No signature check, no parsing, no database, no
queue, no log line. Run it exactly like `bridge web`:

    python -m gunicorn --config python:bridge.gunicorn_conf bench.bare_app:app

so WEB_CONCURRENCY, GUNICORN_THREADS, the worker class and the access log are the
shipped ones; the difference between it and the bridge is the bridge's own work.
"""
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/webhooks/okendo")
def receive():
    body = request.stream.read(1024 * 1024 + 1)
    return jsonify(status="pending", bytes=len(body)), 202


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
