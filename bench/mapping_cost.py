"""Mapping cost: CPU time per event of the worker's pure-Python steps, in this process.

* validate + map: `bridge.okendo.validate_event` (envelope and resource, through the
  schemas' compiled fast path, marshmallow for anything it is unsure of) then
  `bridge.bodies.build_body` (a plain function per body shape), for a review
  (native-review shape) and a survey response (survey shape);
* plan: `bridge.mapping.plan_event` with the shipped config/mapping.yaml (loaded with
  `load_mapping`, KUSTOMER_* set): routes, their bodies, and the ticket decision;
* for context: what ingest does per request besides I/O (signature check, JSON parse,
  validation), and rendering the ticket of a negative review.

timeit: the number of calls per timing is chosen so one timing lasts ≥ 0.2 s (`autorange`),
then 7 timings (5 with --quick); the figure is the median µs per call. A missed target
says by how much (µs over, and as a share of the target).
"""
from __future__ import annotations

import json
import statistics
import time
import timeit
import uuid

from .harness import Context
from .processes import ROOT, loadavg
from .report import Section, num, verdict

NAME = "mapping"
TARGET_US = 100.0
SAMPLES = ROOT / "tests" / "samples" / "okendo"


def _median_us(fn, repeats: int) -> float:
    """Median µs per call of `fn` over `repeats` timings."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()  # calls per timing so that one timing lasts >= 0.2 s
    timings = timer.repeat(repeat=repeats, number=number)
    return statistics.median(timings) / number * 1e6


def _verdict(us: float, target: float) -> str:
    """met, or MISSED with the margin: `MISSED by 12.0 µs (+12%)`."""
    if us < target:
        return verdict(True)
    return f"{verdict(False)} by {us - target:,.1f} µs (+{us / target - 1:.0%})"


def run(ctx: Context) -> Section:
    from bridge.bodies import build_body
    from bridge.mapping import load_mapping, plan_event, render_ticket
    from bridge.okendo.schemas import validate_event
    from bridge.web import signatures

    section = Section("Mapping cost")
    avg = loadavg()
    repeats = 5 if ctx.quick else 7
    review = json.loads((SAMPLES / "review-create-positive.json").read_bytes())
    negative = json.loads((SAMPLES / "review-create-negative.json").read_bytes())
    survey = json.loads((SAMPLES / "survey_response-create-detractor.json").read_bytes())
    env = {
        "KUSTOMER_API_KEY": "bench-key", "KUSTOMER_API_BASE": "http://127.0.0.1:9",
        "KUSTOMER_REVIEW_HOOK_URL": "http://127.0.0.1:9/v1/hooks/web/reviews",
        "KUSTOMER_SURVEY_HOOK_URL": "http://127.0.0.1:9/v1/hooks/web/surveys",
    }
    mapping = load_mapping(ROOT / "config" / "mapping.yaml", env=env)
    v_review, v_negative, v_survey = validate_event(review), validate_event(negative), validate_event(survey)
    negative_plan = plan_event(mapping, v_negative)

    body = json.dumps(review).encode()
    secret = ctx.secret
    webhook_id = f"msg_{uuid.uuid4().hex}"
    ts = int(time.time())
    headers = {"webhook-id": webhook_id, "webhook-timestamp": str(ts),
               "webhook-signature": signatures.sign(secret, webhook_id, ts, body)}

    cases = [
        ("review: validate + map (native-review)",
         lambda: build_body("native-review", validate_event(review)), TARGET_US),
        ("review: validate only (validate_event)", lambda: validate_event(review), None),
        ("review: map only (build_body)", lambda: build_body("native-review", v_review), None),
        ("survey: validate + map (survey)",
         lambda: build_body("survey", validate_event(survey)), None),
        ("review: plan_event (routes, body, ticket decision)",
         lambda: plan_event(mapping, v_review), None),
        ("negative review: plan_event", lambda: plan_event(mapping, v_negative), None),
        ("survey: plan_event", lambda: plan_event(mapping, v_survey), None),
        ("negative review: render the ticket (Jinja2 sandbox)",
         lambda: render_ticket(negative_plan.settings, v_negative, negative_plan.ticket), None),
        ("ingest CPU: verify signature + json.loads + validate",
         lambda: validate_event(json.loads(signatures.verify(body, headers, [secret]) and body)), None),
    ]
    ctx.log(f"  load average {avg}")
    for label, fn, target in cases:
        fn()  # warm caches and lazy imports before timing
        us = _median_us(fn, repeats)
        if target is not None:
            ctx.log(f"    {label}: {us:.1f} µs, target < {target:.0f} µs: {_verdict(us, target)}")
            section.row(label, num(us, "µs", 1), "—", f"< {target:.0f} µs", _verdict(us, target))
        else:
            ctx.log(f"    {label}: {us:.1f} µs")
            section.row(label, num(us, "µs", 1))
    section.note(f"load average at start {avg}; median of {repeats} timeit repeats, each ≥ 0.2 s; "
                 "one process, one thread, no I/O")
    return section
