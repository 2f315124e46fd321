"""kill -9 the worker in the middle of a burst; a new worker finishes the job.

What a kill -9 can cost: the events the worker's threads had claimed (status `processing`,
with a lease). Each of them may have had its hook posted without the bridge having recorded
it, so the new worker posts that hook again once the lease runs out. That is the only
duplicate allowed, so at most `threads` review ids may see their hook more than once.
Tickets are never duplicated: the conversation is looked up by its externalId before one is
created, and the `tickets` row makes one worker at a time responsible for it.
"""
import collections
import signal
import threading

from tests.faults.conftest import hook_review_ids, new_id, review, send_concurrently, timed, wait_for

EVENTS = 200
NEGATIVE_EVERY = 10  # 20 negative reviews in the burst, each opening a ticket
THREADS = 4


def test_kill_9_mid_burst_loses_nothing_and_duplicates_at_most_the_events_in_flight(make_stack):
    stack = make_stack(BRIDGE_WORKER_THREADS=str(THREADS))
    stack.faults(latency_ms=20)  # every Kustomer call takes 20 ms: the worker is busy mid-burst
    reviews = [new_id("kill") for _ in range(EVENTS)]
    negative = set(reviews[::NEGATIVE_EVERY])
    bodies = [(f"msg_{rid}", review(rid, negative=rid in negative)) for rid in reviews]

    codes: dict = {}
    sender = threading.Thread(target=lambda: codes.update(send_concurrently(stack, bodies)))
    with timed("kill -9: burst of 200 until every event is delivered"):
        sender.start()
        # Kill once the worker has delivered some of the burst but far from all of it.
        wait_for(lambda: stack.stats()["hooks"] >= 30, 60, interval=0.05, what="30 hooks before the kill")
        stack.stop("worker", signal.SIGKILL)
        at_kill = stack.stats()["hooks"]
        in_flight = stack.statuses().get("processing", 0)
        print(f"[kill -9] hooks received at the kill: {at_kill}; events left 'processing': {in_flight}")
        assert at_kill < EVENTS, "the worker finished before the kill: the test proved nothing"
        stack.start_worker()
        sender.join(120)
        assert not sender.is_alive()
        assert sorted(set(codes.values())) == [202], collections.Counter(codes.values())
        counts = stack.wait_all_final(EVENTS, timeout=90)
    assert counts == {"delivered": EVENTS}, "\n".join(map(str, stack.not_delivered()))

    received = stack.received()
    per_review = collections.Counter(hook_review_ids(received))
    assert set(per_review) == set(reviews)  # every hook body arrived
    duplicated = {rid: n for rid, n in per_review.items() if n > 1}
    print(f"[kill -9] review ids whose hook arrived twice: {len(duplicated)} (bound: {THREADS} threads)")
    # Only an event that a worker thread held at the kill can be posted again, and a thread
    # holds one event at a time.
    assert len(duplicated) <= THREADS, duplicated
    assert all(n == 2 for n in duplicated.values()), duplicated

    # Exactly one conversation per negative review, none for the positive ones.
    conversations = received["conversation_external_ids"]
    assert conversations == {f"okendo-review-{rid}": 1 for rid in negative}
    # ... each with exactly one note and both tags, even for a ticket a killed thread held.
    notes = {c["attributes"]["externalId"]: len(c["notes"]) for c in received["conversations"]}
    assert notes == {f"okendo-review-{rid}": 1 for rid in negative}, notes
    assert all(c["tags"] == ["okendo", "negative-feedback"] for c in received["conversations"])
