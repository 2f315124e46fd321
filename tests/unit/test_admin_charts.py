"""The overview's SVG charts: events per hour by status, delivery latency."""

from __future__ import annotations

import re

import responses

from tests.conftest import REVIEW_HOOK
from tests.unit.test_admin import ADMIN, html, ingest


def test_the_overview_draws_events_per_hour_and_latency_without_inline_style(client, runtime, kustomer):
    kustomer.upsert(responses.POST, REVIEW_HOOK, json={"ok": True})
    delivered = ingest(client, "review-create-positive.json", distinct=True)
    assert runtime.processor.process(delivered) == "delivered"
    ingest(client, "review-create-positive.json", distinct=True)  # pending
    response = client.get("/admin/", headers=ADMIN)
    page = html(response)
    events_svg = re.search(r'<svg class="chart" id="chart-events".*?</svg>', page, re.S).group(0)
    titles = re.findall(r"<title>(.*?)</title>", events_svg)
    assert any(title.endswith(": 1 delivered") for title in titles), titles
    assert any(title.endswith(": 1 pending") for title in titles), titles
    latency_svg = re.search(r'<svg class="chart" id="chart-latency".*?</svg>', page, re.S).group(0)
    assert "<polyline" in latency_svg and "(nothing yet)" not in page.split('id="chart-latency"')[0][-300:]
    assert " style=" not in page and "<script" not in page
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]


def test_an_empty_bridge_says_nothing_yet(client):
    page = html(client.get("/admin/", headers=ADMIN))
    assert page.count("(nothing yet)") == 2
