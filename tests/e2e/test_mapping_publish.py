"""Publishing a mapping version with `bridge mapping publish` reaches a running worker.

Separate processes on PostgreSQL: gunicorn (web), `bridge worker`, the Kustomer emulator.
The worker has loaded version 1 (it processed an event with it); the CLI publishes version
2; the very next event the worker processes uses version 2, with no restart.
"""
import pytest

from tests.helpers import sample, with_sequence
from tests.e2e.conftest import ONE_WEB_WORKER, ROOT, new_stack, started_stack, wait_for

FIXTURE = ROOT / "tests" / "mappings" / "default.yaml"


@pytest.fixture
def stack(database_url, tmp_path, request):
    """The subject is the worker: web is only the way in (one gunicorn worker)."""
    yield from started_stack(request, new_stack(database_url, tmp_path, **ONE_WEB_WORKER))


def bodies(stack) -> list[dict]:
    return [hook["transaction"]["attributes"]["data"] for hook in stack.received()["hooks"]]


def send_review(stack, tmp_path, number: int) -> None:
    path = tmp_path / f"review-{number}.json"
    path.write_bytes(with_sequence(sample("review-create-positive.json"), number, reviewId=f"review-{number}"))
    assert stack.send(path, webhook_id=f"msg_publish_{number}").stdout.startswith("202")


def test_a_version_published_from_the_cli_is_used_by_the_running_worker(database_url, request, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("the multi-process pickup is PostgreSQL's LISTEN/NOTIFY; SQLite's check is unit-tested")
    stack = request.getfixturevalue("stack")  # only started when the test runs
    send_review(stack, tmp_path, 1)
    stack.wait_until_settled(1)
    assert "mappingVersion" not in bodies(stack)[0]

    draft = tmp_path / "mapping.yaml"
    draft.write_text(FIXTURE.read_text().replace(
        "    body: native-review\n", "    body: native-review\n    extra: {mappingVersion: two}\n", 1))
    published = stack.cli("mapping", "publish", str(draft), "--note", "mark bodies", "--author", "e2e")
    assert "published version 2" in published.stdout

    send_review(stack, tmp_path, 2)
    stack.wait_until_settled(2)
    wait_for(lambda: len(bodies(stack)) == 2, 10, what="the second hook")
    second = next(body for body in bodies(stack) if body["review"]["reviewId"] == "review-2")
    assert second["mappingVersion"] == "two"
    assert stack.processes["worker"].poll() is None  # the same worker process, never restarted
    assert "mapping version 2 is live in this process" in stack.log("worker")
    history = stack.cli("mapping", "history").stdout
    assert "2 (live)" in history and "e2e: mark bodies" in history
