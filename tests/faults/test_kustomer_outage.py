"""Kustomer down for a while, then back: what was queued meanwhile is delivered, in order.

During the outage every call gets 503 (with Retry-After); events go `retrying` on the
schedule, and later updates of a review wait for the older ones (per-resource order). When
Kustomer is back, the updates of one review must arrive in sequenceNumber order, each once,
and never an older one after a newer one.
"""
import collections
import time

from tests.faults.conftest import ONE_WEB_WORKER, hook_review_ids, new_id, review, timed, wait_for

UPDATES = 5  # sequenceNumbers 2000..2004 of one review
OTHERS = 6
OUTAGE_SECONDS = 5
ARRIVAL_ORDER = (1, 0, 3, 4, 2)  # sequenceNumbers 2001, 2000, 2003, 2004, 2002


def test_events_queued_during_an_outage_are_delivered_in_order_per_review(make_stack):
    stack = make_stack(**ONE_WEB_WORKER)
    stack.faults(outage=True)
    ordered = new_id("ordered")
    others = [new_id("outage") for _ in range(OTHERS)]
    with timed(f"outage: {OUTAGE_SECONDS} s outage, then until everything is delivered"):
        down_since = time.monotonic()
        # The create and its updates of one review, interleaved with other reviews, and arriving
        # out of order (Okendo does not promise order): sequenceNumber alone must decide.
        updates = {n: (f"msg_{ordered}_{n}", review(ordered, sequence=2000 + n, title=f"seq {2000 + n}",
                                                     topic="create" if n == 0 else "update"))
                   for n in range(UPDATES)}
        others_sent = [(f"msg_{rid}", review(rid)) for rid in others]
        sent = []
        for position, n in enumerate(ARRIVAL_ORDER):
            sent.append(updates[n])
            sent.extend(others_sent[position::len(ARRIVAL_ORDER)])
        assert len(sent) == UPDATES + OTHERS
        for webhook_id, body in sent:
            assert stack.post(body, webhook_id=webhook_id) == 202

        # Everything is retrying (or waiting for an older event of its review); nothing got through.
        wait_for(lambda: stack.statuses().get("retrying", 0) == len(sent), 20, what="all events retrying")
        assert stack.stats()["hooks"] == 0
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))
        rows = stack.rows()
        assert {r["status"] for r in rows} <= {"retrying", "processing"}  # none dead, none lost
        assert stack.stats()["hooks"] == 0
        print(f"[outage] attempts per event during the outage: {sorted(r['attempts'] for r in rows)}")

        stack.faults(outage=False)
        counts = stack.wait_all_final(len(sent), timeout=60)
    assert counts == {"delivered": len(sent)}, "\n".join(map(str, stack.not_delivered()))

    received = stack.received()
    per_review = collections.Counter(hook_review_ids(received))
    assert per_review == {**{rid: 1 for rid in others}, ordered: UPDATES}
    titles = [h["transaction"]["attributes"]["data"]["review"]["title"] for h in received["hooks"]
              if h["transaction"]["attributes"]["data"]["review"]["reviewId"] == ordered]
    # Arrival order at Kustomer equals sequenceNumber order, each update once.
    assert titles == [f"seq {2000 + n}" for n in range(UPDATES)]
