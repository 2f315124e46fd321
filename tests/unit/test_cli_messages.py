"""A newcomer's mistakes in the CLI get one clear line, not a traceback, and create nothing."""
import socket

import pytest
from click.testing import CliRunner

from bridge.cli import main

SAMPLE = "bridge/samples/review-create-positive.json"


def run(monkeypatch, *args, **env):
    for name in ("DATABASE_URL", "QUEUE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, list(args))
    return result


@pytest.mark.parametrize("command", [["events", "list"], ["events", "show", "1"], ["replay", "1"]])
def test_no_database_file_is_one_line_and_nothing_is_created(monkeypatch, tmp_path, command):
    missing = tmp_path / "elsewhere" / "bridge.db"
    result = run(monkeypatch, *command, DATABASE_URL=f"sqlite:///{missing}")
    assert result.exit_code == 1
    assert f"Error: no database at {missing}: run `bridge db upgrade`" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not missing.parent.exists()


def test_an_unmigrated_database_is_one_line(monkeypatch, tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    result = run(monkeypatch, "events", "list", DATABASE_URL=f"sqlite:///{empty}")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "the database is at migration none" in result.output and "run `bridge db upgrade` first" in result.output


def test_an_unreachable_database_server_is_one_line(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    result = run(monkeypatch, "events", "list", DATABASE_URL=f"postgresql://nobody@127.0.0.1:{port}/x")
    assert result.exit_code == 1
    assert "cannot reach the database: OperationalError" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_send_sample_to_nothing_listening_is_one_line(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run(monkeypatch, "send-sample", SAMPLE, "--url", f"http://127.0.0.1:{port}/webhooks/okendo",
                 "--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: cannot reach http://127.0.0.1:{port}/webhooks/okendo: connection "
                                     "refused. Is the bridge running there (`make run` or `bridge web`)?")


def test_invalid_events_in_the_list_say_what_is_wrong(client, runner):
    from tests.helpers import signed_headers

    for body in (b"not json at all", b'{"resourceType": "review", "topic": "create"}'):
        assert client.post("/webhooks/okendo", data=body, headers=signed_headers(body)).json["status"] == "invalid"
    lines = runner.invoke("events", "list").output.strip().splitlines()[-2:]
    assert "None" not in " ".join(lines)
    assert "review.create" in lines[0] and "resource" in lines[0]  # the missing field is named
    assert "(not an Okendo event)" in lines[1] and "not valid JSON" in lines[1]
