"""The webhook's own WSGI path (bridge.web.ingest_wsgi) answers as the Flask view does.

Every other ingest test goes through it (the app factory installs it in front of Flask); here:
a webhook it leaves to Flask (no Content-Length) gets the same answer and log line, other
methods still get Flask's 405, a body cut short is a 400, and an unexpected error a logged
500 that carries the request id.
"""
from __future__ import annotations

import io
import json
import logging

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from bridge.web import ingest
from tests.helpers import sample_bytes, signed_headers

URL = "/webhooks/okendo"


def _environ(body: bytes, headers: dict, *, length: bool = True) -> dict:
    environ = EnvironBuilder(path=URL, method="POST", data=body, headers=headers).get_environ()
    if not length:  # as a chunked upload arrives once de-chunked: no length, a terminated stream
        del environ["CONTENT_LENGTH"]
        environ["wsgi.input_terminated"] = True
    return environ


def _call(app, environ):
    iterable, status, headers = run_wsgi_app(app.wsgi_app, environ)
    return int(status.split()[0]), headers, json.loads(b"".join(iterable))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_webhook_without_a_length_is_answered_by_flask_the_same_way(app, caplog):
    body = sample_bytes("review-create-negative.json")
    with caplog.at_level(logging.INFO, logger="bridge.http"):
        fast = _call(app, _environ(body, signed_headers(body, webhook_id="msg_fast")))
        flask = _call(app, _environ(body, signed_headers(body, webhook_id="msg_flask"), length=False))
        again = _call(app, _environ(body, signed_headers(body, webhook_id="msg_flask"), length=False))
    assert fast[0] == flask[0] == 202 and again[0] == 200
    assert fast[2].keys() == flask[2].keys() and fast[2]["status"] == flask[2]["status"] == "pending"
    assert fast[1]["Content-Type"] == flask[1]["Content-Type"] == "application/json"
    assert fast[1]["X-Request-ID"] and flask[1]["X-Request-ID"]
    lines = [r for r in caplog.records if r.name == "bridge.http"]
    assert [r.getMessage() for r in lines] == ["POST /webhooks/okendo 202: stored webhook"] * 2 + [
        "POST /webhooks/okendo 200: duplicate webhook"]
    assert [(r.webhook_id, r.event_status) for r in lines[:2]] == [("msg_fast", "pending"), ("msg_flask", "pending")]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_other_methods_are_still_flasks_405(client):
    response = client.get(URL)
    assert response.status_code == 405 and response.headers.get("X-Request-ID")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_body_shorter_than_its_length_is_a_400_and_nothing_is_stored(app, runtime):
    body = sample_bytes("review-create-negative.json")
    environ = _environ(body, signed_headers(body))
    environ["wsgi.input"] = io.BytesIO(body[:100])
    status, headers, answer = _call(app, environ)
    assert status == 400 and headers["X-Request-ID"]
    assert runtime.dispatcher.depth() == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unexpected_error_is_a_logged_500_with_the_request_line(app, monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(ingest, "answer", broken)
    app.config.update(TESTING=False)
    body = sample_bytes("review-create-negative.json")
    with caplog.at_level(logging.INFO):
        status, headers, answer = _call(app, _environ(body, signed_headers(body)))
    assert status == 500 and answer == {"error": "internal server error"} and headers["X-Request-ID"]
    assert any(r.exc_info and "a bug" in str(r.exc_info[1]) for r in caplog.records)
    assert any(r.name == "bridge.http" and r.getMessage() == "POST /webhooks/okendo 500" for r in caplog.records)
    app.config.update(TESTING=True)
    with pytest.raises(RuntimeError):  # a test sees the error itself, as with Flask
        _call(app, _environ(body, signed_headers(body)))
