"""SIGTERM to the web and the worker under load, as Heroku does on every deploy and restart.

SIGTERM goes to every process of each (`killpg`, like a dyno stop). What must hold:
- both exit by themselves, with status 0, well inside Heroku's 30 s before SIGKILL;
- gunicorn finishes the requests it accepted: every request gets either its answer (202,
  meaning stored) or no answer at all (connection refused: not acknowledged, Okendo retries);
- the worker finishes the events in hand: nothing is left `processing` and no hook is
  posted twice (a graceful stop is not a crash);
- after a restart every acknowledged event is delivered, and what got no answer, sent again
  as Okendo would, is stored once and delivered.
"""
import collections
import signal
import threading
import time

from tests.faults.conftest import hook_review_ids, new_id, review, timed, wait_for

HEROKU_GRACE_SECONDS = 30


def test_sigterm_to_web_and_worker_under_load_is_graceful_and_loses_no_acknowledged_event(make_stack):
    stack = make_stack()
    stack.faults(latency_ms=20)
    codes: dict[str, int] = {}
    bodies: dict[str, bytes] = {}
    stop = threading.Event()

    def keep_sending(lane: int) -> None:
        while not stop.is_set():
            rid = new_id(f"term{lane}")
            bodies[f"msg_{rid}"] = body = review(rid, negative=len(bodies) % 10 == 0)
            codes[f"msg_{rid}"] = code = stack.post(body, webhook_id=f"msg_{rid}")
            time.sleep(0.05 if code else 0.2)  # Okendo does not hammer a closed port either

    senders = [threading.Thread(target=keep_sending, args=(lane,)) for lane in range(2)]
    exits: dict[str, tuple[int | None, float]] = {}

    def terminate(name: str) -> None:
        started = time.monotonic()
        code = stack.stop(name, signal.SIGTERM, timeout=HEROKU_GRACE_SECONDS)
        exits[name] = (code, time.monotonic() - started)

    try:
        with timed("SIGTERM under load, restart, until everything is delivered"):
            for sender in senders:
                sender.start()
            wait_for(lambda: stack.stats()["hooks"] >= 30, 30, interval=0.05, what="30 hooks before SIGTERM")
            stoppers = [threading.Thread(target=terminate, args=(name,)) for name in ("web", "worker")]
            for stopper in stoppers:
                stopper.start()
            for stopper in stoppers:
                stopper.join(HEROKU_GRACE_SECONDS + 10)
            left_processing = stack.statuses().get("processing", 0)
            time.sleep(1)  # Okendo keeps sending while nothing listens
            stack.start_web()
            stack.start_worker()
            time.sleep(2)
            stop.set()
            for sender in senders:
                sender.join(30)

            print(f"[sigterm] exits (status, seconds): {exits}; answers: {dict(collections.Counter(codes.values()))}")
            for name in ("web", "worker"):
                code, seconds = exits[name]
                assert code == 0, f"{name} exited with {code} after SIGTERM:\n{stack.log(name)[-3000:]}"
                assert seconds < HEROKU_GRACE_SECONDS
            # The worker finished what it held: nothing waits for a lease to expire.
            assert left_processing == 0
            answered = collections.Counter(codes.values())
            assert set(answered) <= {202, 0}, answered
            stored = {r["webhook_id"] for r in stack.rows()}
            acknowledged = {w for w, code in codes.items() if code == 202}
            assert acknowledged <= stored
            again = {w: stack.post(bodies[w], webhook_id=w) for w, code in codes.items() if code == 0}
            assert set(again.values()) <= {200, 202}, again
            counts = stack.wait_all_final(len(codes), timeout=60)
    finally:
        stop.set()
    assert counts == {"delivered": len(codes)}, "\n".join(map(str, stack.not_delivered()))
    per_review = collections.Counter(hook_review_ids(stack.received()))
    assert set(per_review.values()) == {1}, {rid: n for rid, n in per_review.items() if n > 1}
    assert len(per_review) == len(codes)
