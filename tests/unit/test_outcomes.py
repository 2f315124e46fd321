"""How a round's action outcomes decide the event's next status."""
from datetime import datetime, timezone

from bridge.delivery.retry_policy import Outcome, decide

NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)
SCHEDULE = (5.0, 300.0)


def test_all_done_is_delivered():
    assert decide([Outcome("hook:a", "done")], 0, SCHEDULE, NOW).status == "delivered"


def test_transient_follows_the_schedule_and_honours_a_longer_server_hint():
    verdict = decide([Outcome("hook:a", "transient", error="503", retry_after=60)], 0, SCHEDULE, NOW)
    assert (verdict.status, verdict.delay, verdict.count_attempt) == ("retrying", 60, True)
    assert decide([Outcome("hook:a", "transient")], 1, SCHEDULE, NOW).delay == 300


def test_transient_after_the_schedule_is_dead():
    verdict = decide([Outcome("hook:a", "transient", error="503")], 2, SCHEDULE, NOW)
    assert verdict.status == "dead" and verdict.error.startswith("gave up after 3 attempts")


def test_transient_wins_over_permanent_while_the_schedule_lasts():
    outcomes = [Outcome("hook:a", "permanent", error="400"), Outcome("hook:b", "transient", error="503")]
    assert decide(outcomes, 0, SCHEDULE, NOW).status == "retrying"
    assert decide([outcomes[0]], 0, SCHEDULE, NOW).status == "dead"


def test_waiting_for_another_worker_retries_soon_without_spending_an_attempt():
    verdict = decide([Outcome("ticket", "wait", error="busy", retry_after=2)], 5, SCHEDULE, NOW)
    assert (verdict.status, verdict.delay, verdict.count_attempt) == ("retrying", 2, False)
