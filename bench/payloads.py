"""Signed Okendo review events for the benchmarks.

Every event is the positive review sample (tests/samples/okendo/review-create-positive.json,
about 1.8 KB) with its own `reviewId`, so events never wait for one another (the bridge
delivers events of ONE review in sequenceNumber order) and each hook body can be matched to
the request that caused it. Each request gets a unique `webhook-id` (the bridge answers a
repeated one with 200 "duplicate") and is signed the Standard Webhooks way with
`bridge.web.signatures.sign`. Signatures are only good for 5 minutes, so request files are
written right before the run that uses them.
"""
from __future__ import annotations

import time
import uuid
from pathlib import Path

from bridge.web.signatures import sign

from .processes import ROOT

SAMPLE = ROOT / "tests" / "samples" / "okendo" / "review-create-positive.json"
SURVEY_SAMPLE = ROOT / "tests" / "samples" / "okendo" / "survey_response-create-detractor.json"
ORIGINAL_REVIEW_ID = "c3f1a2b4-9e8d-4f7a-b6c5-d4e3f2a1b0c9"
PLACEHOLDER = "@@REVIEW_ID@@"  # same length as nothing in the sample; replaced by a uuid4


def template() -> str:
    text = SAMPLE.read_text()
    if text.count(ORIGINAL_REVIEW_ID) != 1:
        raise RuntimeError(f"{SAMPLE} no longer holds reviewId {ORIGINAL_REVIEW_ID} exactly once")
    return text.replace(ORIGINAL_REVIEW_ID, PLACEHOLDER)


def review_body(review_id: str, tpl: str | None = None) -> bytes:
    return (tpl or template()).replace(PLACEHOLDER, review_id).encode()


def signed_headers(secret: str, body: bytes, webhook_id: str | None = None) -> dict:
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time())
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
        "Content-Type": "application/json",
    }


def write_request_file(path: Path, template_path: Path, secret: str, count: int) -> float:
    """Pre-sign `count` requests for wrk: one line `id timestamp signature reviewId` each,
    and the body template (with PLACEHOLDER) beside it. Returns the seconds it took."""
    started = time.perf_counter()
    tpl = template()
    template_path.write_text(tpl)
    timestamp = int(time.time())
    with open(path, "w") as out:
        for _ in range(count):
            review_id = str(uuid.uuid4())
            webhook_id = f"msg_{uuid.uuid4().hex}"
            signature = sign(secret, webhook_id, timestamp, review_body(review_id, tpl))
            out.write(f"{webhook_id} {timestamp} {signature} {review_id}\n")
    return time.perf_counter() - started


def body_size() -> int:
    return len(review_body(str(uuid.uuid4())))
