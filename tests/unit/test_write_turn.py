"""Webhook INSERTs into one SQLite file take turns (bridge.events.write_turn).

Among threads (a lock) and among processes (an exclusive flock on a file beside the database,
checked here through a second open file description, as another process would hold it); a
folder where the lock file cannot be made leaves writes working, without turns.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading

import pytest

from bridge.events import event_insert, write_turn
from bridge.events.models import EventStatus


def _held_elsewhere(path: str) -> bool:
    """Whether another open file description (another process's, say) can lock `path` now."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops our lock, if we got it
    return False


def test_the_turn_is_one_process_at_a_time(tmp_path):
    turn = write_turn.WriteTurn(str(tmp_path / "bridge.db"))
    turn.take()
    try:
        assert _held_elsewhere(turn.path)
    finally:
        turn.give()
    assert not _held_elsewhere(turn.path)


def test_the_turn_is_one_thread_at_a_time(tmp_path):
    """While one thread holds the turn, another's take() does not return; it does once the
    turn is given back. (Holding it cannot let the second finish, so the test cannot fail
    falsely; a take() that did not wait would let it finish within the half second.)"""
    turn = write_turn.WriteTurn(str(tmp_path / "bridge.db"))
    took = threading.Event()

    def second():
        turn.take()
        took.set()
        turn.give()

    turn.take()
    thread = threading.Thread(target=second, daemon=True)
    try:
        thread.start()
        assert not took.wait(0.5), "a second thread took the turn while the first held it"
    finally:
        turn.give()
    assert took.wait(30)
    thread.join(30)


def test_one_turn_per_database_file_and_none_in_memory(tmp_path):
    path = str(tmp_path / "bridge.db")
    assert write_turn.for_database(path) is write_turn.for_database(path)
    assert write_turn.for_database(str(tmp_path / "other.db")) is not write_turn.for_database(path)
    assert write_turn.for_database(":memory:") is None
    assert write_turn.for_database(None) is None


def test_a_lock_file_that_cannot_be_made_leaves_writes_working(tmp_path, caplog):
    turn = write_turn.WriteTurn(str(tmp_path / "missing-folder" / "bridge.db"))
    with caplog.at_level(logging.WARNING, logger="bridge.events.write_turn"):
        for _ in range(2):
            turn.take()
            turn.give()
    assert [r.getMessage() for r in caplog.records if "without taking turns" in r.getMessage()] \
        and len(caplog.records) == 1  # said once per process


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_webhook_insert_takes_its_turn_beside_the_database(runtime):
    stored = event_insert.store_event(runtime.db.engine, webhook_id="msg_turn", body=b"{}", headers={},
                                      status=EventStatus.PENDING)
    assert stored.created
    path = runtime.db.engine.url.database + write_turn.SUFFIX
    assert os.path.exists(path) and not _held_elsewhere(path)  # given back after the statement
