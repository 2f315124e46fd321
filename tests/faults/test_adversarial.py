"""Issue 13: an adversarial pass over the real bridge (gunicorn, worker, emulator), counted.

Genuine events (some sent twice, some with lone surrogates) go in beside forged, cross-store,
malformed, deeply nested and oversized ones, plus probes of the admin console, /metrics
and odd paths. The test prints what the issue asks to report (inputs tried, 5xx, events
lost, duplicates) and asserts the three that must be zero.
"""
from __future__ import annotations

import base64
import collections
import json
import random
import time
import uuid
from pathlib import Path

import requests

from bridge.web import signatures
from tests.faults.conftest import FINAL, wait_for
from tests.helpers import OTHER_SECRET, SECRET, sample

ACME = "5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21"
GLOBEX = "9b1d7c44-2f6e-4a8b-b3c5-0d1e2f3a4b5c"
ACME_SECRET = "whsec_QUNNRS1zZWNyZXQta2V5LWZvci10ZXN0cw=="
GLOBEX_SECRET = "whsec_R0xPQkVYLXNlY3JldC1rZXktZm9yLXRlc3Rz"
MAPPING = str(Path(__file__).parents[1] / "mappings" / "two_stores_emulator.yaml")
ADMIN = ("admin", "correct horse battery staple")


def headers_for(body: bytes, secret: str, webhook_id: str | None = None, timestamp: int | None = None) -> dict:
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp), "content-type": "application/json",
            "webhook-signature": signatures.sign(secret, webhook_id, timestamp, body)}


def review(store: str, *, negative: bool, text: str | None = None) -> bytes:
    payload = sample("review-create-negative.json" if negative else "review-create-positive.json")
    payload["resource"]["subscriberId"] = store
    payload["resource"]["reviewId"] = str(uuid.uuid4())
    body = json.dumps(payload)
    if text is not None:  # raw JSON text for the review body, e.g. a lone surrogate escape
        body = body.replace(json.dumps(payload["resource"]["body"]), text, 1)
    return body.encode()


def test_adversarial_inputs_cause_no_5xx_no_loss_and_no_duplicates(make_stack):
    stack = make_stack(BRIDGE_MAPPING=MAPPING, ACME_OKENDO_SECRET=ACME_SECRET, GLOBEX_OKENDO_SECRET=GLOBEX_SECRET,
                       ACME_REVIEW_HOOK_URL=None, GLOBEX_REVIEW_HOOK_URL=None, METRICS_TOKEN="probe-token",
                       BRIDGE_BODY_READ_SECONDS="3")
    stack.env.update(ACME_REVIEW_HOOK_URL=f"{stack.emulator_url}/v1/hooks/web/acme",
                     GLOBEX_REVIEW_HOOK_URL=f"{stack.emulator_url}/v1/hooks/web/globex")
    # The env above was read at start; restart web and worker with the hook URLs in place.
    stack.stop("web"), stack.stop("worker")
    stack.start_web(), stack.start_worker()

    rng = random.Random(13)
    answers: list[tuple[str, int]] = []
    genuine: dict[str, str] = {}  # webhook id -> expected final status

    def send(kind: str, body: bytes, headers: dict) -> int:
        try:
            code = requests.post(stack.webhook_url, data=body, headers=headers, timeout=20).status_code
        except requests.RequestException:
            code = 0
        answers.append((kind, code))
        return code

    # 1. genuine events, each store with its own secret, a third sent twice (Okendo's retry)
    for n in range(24):
        store, secret = (ACME, ACME_SECRET) if n % 2 else (GLOBEX, GLOBEX_SECRET)
        body, webhook_id = review(store, negative=n % 3 == 0), f"msg_genuine_{n}"
        headers = headers_for(body, secret, webhook_id)
        assert send("genuine", body, headers) == 202
        genuine[webhook_id] = "delivered"
        if n % 3 == 0:
            assert send("genuine-repeat", body, headers) == 200
    # 2. lone surrogates (text cut inside an emoji): repaired and delivered
    for n, text in enumerate(['"cut \\ud83d"', '"\\udc00 start"', '"\\ud800\\ud800"']):
        body, webhook_id = review(ACME, negative=n == 0, text=text), f"msg_surrogate_{n}"
        assert send("surrogate", body, headers_for(body, ACME_SECRET, webhook_id)) == 202
        genuine[webhook_id] = "delivered"
    # 3. genuine but unusable: stored as invalid, never lost
    for n, body in enumerate([b"[" * 5000 + b"]" * 5000, b"{" * 100 + b"}" * 100, b'{"a":' * 70 + b"1" + b"}" * 70,
                              b"not json at all", b"\xff\xfe\x00bad utf-8", b"", b'{"resourceType": 5}']):
        webhook_id = f"msg_invalid_{n}"
        code = send("genuine-invalid", body, headers_for(body, SECRET, webhook_id))
        assert code == 202, (n, code)
        genuine[webhook_id] = "invalid"
    # 4. forged, cross-store, stale, malformed: 401, nothing stored
    forged = 0
    for n in range(60):
        body = review(GLOBEX if n % 2 else ACME, negative=True)
        variant = n % 6
        if variant == 0:  # Acme's secret signing Globex's event, and the reverse
            headers = headers_for(body, ACME_SECRET if n % 2 else GLOBEX_SECRET)
        elif variant == 1:  # the shared secret for stores that have their own
            headers = headers_for(body, SECRET)
        elif variant == 2:  # a secret nobody configured
            headers = headers_for(body, OTHER_SECRET)
        elif variant == 3:  # stale
            headers = headers_for(body, ACME_SECRET if n % 2 == 0 else GLOBEX_SECRET, timestamp=int(time.time()) - 900)
        elif variant == 4:  # random signature bytes
            headers = headers_for(body, ACME_SECRET)
            headers["webhook-signature"] = "v1," + base64.b64encode(rng.randbytes(32)).decode()
        else:  # garbage headers
            headers = {"webhook-id": "x" * rng.choice([0, 300]), "webhook-timestamp": "nan",
                       "webhook-signature": "v1," * rng.randint(0, 500)}
        assert send("forged", body, headers) == 401, (n, variant)
        forged += 1
    # 5. too big
    send("oversize", b"x" * (1024 * 1024 + 10), headers_for(b"x", ACME_SECRET))

    # 6. the public surface beyond the webhook
    def get(kind, path, **kw):
        try:
            code = requests.request(kw.pop("method", "GET"), stack.web_url + path, timeout=20,
                                    allow_redirects=False, **kw).status_code
        except requests.RequestException:
            code = 0
        answers.append((kind, code))
        return code

    assert get("metrics", "/metrics") == 401
    assert get("metrics", "/metrics", headers={"Authorization": "Bearer probe-token"}) == 200
    for path in ["/admin/events?page=100000000000000000000000", "/admin/events/100000000000000000000000",
                 "/admin/events?since=999999999d", "/admin/replay?since=999999999d", "/admin/events?q=%00%ff",
                 "/admin/events?status=<script>", "/admin/playground?sample=../../etc/passwd",
                 "/admin/events?page=-1&since=9999-12-31"]:
        assert get("admin", path, auth=ADMIN) < 500, path
    for payload in ["[" * 5000 + "]" * 5000, '"\\ud800"', "{}", "1e999999", '{"resource": ' * 300]:
        get("admin-playground", "/admin/playground", method="POST", auth=ADMIN, data={"payload": payload})
    assert requests.get(stack.web_url + "/admin", headers={"Host": "evil.example"}, allow_redirects=False,
                        timeout=10).headers.get("Location", "").startswith("/")
    for path in ["/", "/webhooks/okendo", "/%ff", "/admin/../../etc/passwd", "/metrics?x=" + "a" * 5000]:
        get("odd", path)
    for n in range(25):  # two web processes, each with its own count (10 per client)
        get("login-guess", "/admin/", auth=("admin", f"guess {n}"))
    assert ("login-guess", 429) in answers

    # Settle, then count.
    def settled():
        rows = stack.rows()
        return rows if all(r["status"] in FINAL for r in rows) else None
    rows = {r["webhook_id"]: r for r in wait_for(settled, 90, interval=0.5, what="events to settle")}
    received = requests.get(f"{stack.emulator_url}/__emulator/received", timeout=10).json()
    ids = collections.Counter(h["transaction"]["attributes"]["data"].get("bridgeDeliveryId")
                              for h in received["hooks"])
    duplicates = sum(n - 1 for n in ids.values() if n > 1) + sum(
        n - 1 for n in received["conversation_external_ids"].values() if n > 1)
    lost = [w for w, status in genuine.items() if rows.get(w, {}).get("status") != status]
    errors_5xx = [a for a in answers if a[1] >= 500 or a[1] == 0]
    stored_forged = len(rows) - len(genuine)
    print(f"\nadversarial probe: {len(answers)} inputs tried, {len(errors_5xx)} 5xx/no answer, "
          f"{len(lost)} events lost, {duplicates} duplicates, {stored_forged} forged stored, "
          f"{len(received['hooks'])} hook posts, {len(received['conversation_external_ids'])} conversations")
    assert errors_5xx == []
    assert lost == [], [(w, rows.get(w)) for w in lost]
    assert duplicates == 0
    assert stored_forged == 0
    assert None not in ids  # every hook body carried its delivery id
    surrogate_bodies = [h for h in received["hooks"] if "\ufffd" in json.dumps(h, ensure_ascii=False)]
    assert len(surrogate_bodies) == 3
