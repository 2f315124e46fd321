"""The live mapping as versions in the database: seed, publish, refuse, roll back, pick up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bridge.config import Settings
from bridge.events.db import Database
from bridge.mapping import MappingError, MappingStore
from bridge.mapping import versions
from bridge.mapping.database_store import DatabaseMappingStore
from bridge.mapping.source import mapping_store
from bridge.mapping.tables import MappingVersion
from tests.conftest import make_env

FIXTURE = Path(__file__).resolve().parents[1] / "mappings" / "default.yaml"
TEXT = FIXTURE.read_text()
HIGHER = TEXT.replace("    priority: 4\n", "    priority: 5\n", 1)
BROKEN = TEXT.replace("    priority: 4\n", "    priority: 9\n", 1)
ENV = {}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    yield database
    database.dispose()


def store_for(db, clock=None, path=FIXTURE, **kwargs) -> DatabaseMappingStore:
    return DatabaseMappingStore(db, str(path), ENV, clock=clock or Clock(), listen=False, **kwargs)


def audit_actions(db) -> list[tuple[str, int | None]]:
    with db.session() as session:
        return [(row.action, row.version_id) for row in reversed(versions.audit_list(session))]


def test_first_start_copies_the_mapping_file_into_version_1(db):
    store = store_for(db)
    mapping = store.current()
    assert mapping.tickets.conversation.priority == 4
    assert store.version == 1 and store.path == "version 1 in the database"
    with db.session() as session:
        [row] = versions.history(session)
    assert (row.id, row.author, row.kind, row.replaces_id, row.yaml_text) == (1, "system", "seed", None, TEXT)
    assert str(FIXTURE) in row.note
    assert audit_actions(db) == [("seed", 1)]
    # A second process starting later reads version 1; it does not seed again.
    assert store_for(db).current().tickets.conversation.priority == 4
    assert audit_actions(db) == [("seed", 1)]


def test_publish_adds_a_version_that_every_process_picks_up_at_its_next_check(db):
    clock = Clock()
    web, worker = store_for(db, clock), store_for(db, clock)
    assert worker.current().tickets.conversation.priority == 4
    published = versions.publish(db, HIGHER, author="lead", note="priority 5 for complaints", env=ENV)
    assert published.changed and published.version.id == 2 and published.version.replaces_id == 1
    # Within the check interval the worker keeps what it has (the hot path reads no database)...
    assert worker.current().tickets.conversation.priority == 4
    clock.now += worker.check_interval
    # ...and at the next check both use version 2, without a restart.
    assert worker.current().tickets.conversation.priority == 5 and worker.version == 2
    assert web.current().tickets.conversation.priority == 5
    assert audit_actions(db) == [("seed", 1), ("publish", 2)]


def test_an_invalid_version_is_refused_with_line_and_column_and_never_stored(db):
    store = store_for(db)
    store.current()
    with pytest.raises(MappingError) as refused:
        versions.publish(db, BROKEN, author="lead", note="typo", env=ENV, source="draft")
    line = BROKEN.splitlines().index("    priority: 9") + 1
    assert str(refused.value.problems[0]).startswith(f"draft:{line}:15: tickets.conversation.priority")
    with db.session() as session:
        assert versions.live_version_id(session) == 1
        [refusal] = versions.audit_list(session, actions=("refused",))
    assert refusal.actor == "lead" and "typo" in refusal.message
    assert refusal.problems[0].startswith(f"draft:{line}:15:")
    assert store.reload().tickets.conversation.priority == 4


def test_a_change_note_is_required_and_the_live_text_is_not_published_twice(db):
    store_for(db).current()
    with pytest.raises(versions.PublishError, match="change note is required"):
        versions.publish(db, HIGHER, author="lead", note="  ", env=ENV)
    again = versions.publish(db, TEXT, author="deploy", note="release 42", env=ENV)
    assert not again.changed and again.version.id == 1


def test_rollback_republishes_an_earlier_version_as_a_new_one(db):
    store = store_for(db)
    store.current()
    versions.publish(db, HIGHER, author="lead", note="priority 5", env=ENV)
    rolled = versions.rollback(db, 1, author="lead", note=None, env=ENV)
    assert (rolled.version.id, rolled.version.kind, rolled.version.rolled_back_to) == (3, "rollback", 1)
    assert rolled.version.yaml_text == TEXT and rolled.version.note == "rollback to version 1"
    assert store.reload().tickets.conversation.priority == 4 and store.version == 3
    with pytest.raises(versions.PublishError, match="there is no version 7"):
        versions.rollback(db, 7, author="lead", note=None, env=ENV)
    assert audit_actions(db) == [("seed", 1), ("publish", 2), ("rollback", 3)]


def test_a_version_this_process_cannot_load_leaves_the_last_good_one_running(db):
    clock = Clock()
    store = store_for(db, clock)
    store.current()
    # e.g. written by a newer release that knows a key this one does not
    with db.session() as session:
        session.add(MappingVersion(id=2, yaml_text=BROKEN, author="newer", note="n", replaces_id=1,
                                   kind="publish"))
    for _ in range(2):
        clock.now += store.check_interval
        assert store.current().tickets.conversation.priority == 4
    assert store.version == 1 and "priority" in str(store.last_error[0])
    assert audit_actions(db) == [("seed", 1), ("load_failed", 2)]  # recorded once, not per check


def test_an_invalid_seed_file_loads_nothing_and_says_so(db, tmp_path):
    broken = tmp_path / "mapping.yaml"
    broken.write_text(BROKEN)
    with pytest.raises(MappingError, match="priority"):
        store_for(db, path=broken).current()
    with db.session() as session:
        assert versions.live_version_id(session) is None
        [failure] = versions.audit_list(session)
    assert failure.action == "load_failed" and str(broken) in failure.message


def test_the_mapping_source_setting_chooses_the_store(database_url, db):
    assert isinstance(mapping_store(Settings.from_env(make_env(database_url)), db), DatabaseMappingStore)
    file_mode = mapping_store(Settings.from_env(make_env(database_url, BRIDGE_MAPPING_SOURCE="file")), db)
    assert isinstance(file_mode, MappingStore) and file_mode.mode == "file"
    from bridge.config import ConfigError

    with pytest.raises(ConfigError, match="BRIDGE_MAPPING_SOURCE='git': expected database or file"):
        Settings.from_env(make_env(database_url, BRIDGE_MAPPING_SOURCE="git"))


def test_postgres_processes_hear_a_publish_through_listen_notify(database_url, db):
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    # A check interval of an hour: only the notification can make this store look again.
    store = DatabaseMappingStore(db, str(FIXTURE), ENV, check_interval=3600, listen=True)
    try:
        assert store.current().tickets.conversation.priority == 4
        deadline = time.monotonic() + 10
        while not store._listener.healthy and time.monotonic() < deadline:
            time.sleep(0.05)
        store.current()  # the listener's first "look now" is consumed
        versions.publish(db, HIGHER, author="lead", note="priority 5", env=ENV)
        deadline = time.monotonic() + 10
        while store.current().tickets.conversation.priority != 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.version == 2
    finally:
        store.close()
