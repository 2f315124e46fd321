"""Hot reload: a new good file is served, a bad one never replaces the last good one."""

from __future__ import annotations

import logging
import os

import pytest

from bridge.mapping import MappingError, MappingStore
from bridge.mapping import store as store_module

GOOD = """\
version: 1
routes:
  - name: {name}
    events: [review.create]
    url: https://x.example/{name}
    body: native-review
"""
BAD = """\
version: 1
routes:
  - name: broken
    events: [review.create]
    url: https://x.example/broken
    body: native
"""


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture()
def clock():
    return FakeClock()


def write(path, text: str, mtime_ns: int) -> None:
    """Write and set the modification time explicitly: file systems with coarse
    timestamps would otherwise make a quick rewrite invisible to the test."""
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def names(mapping) -> list[str]:
    return [route.name for route in mapping.routes]


def test_serves_the_new_mapping_after_a_change(tmp_path, clock):
    path = tmp_path / "mapping.yaml"
    write(path, GOOD.format(name="first"), 1_000_000_000)
    store = MappingStore(path, env={}, check_interval=2.0, clock=clock)
    assert names(store.current()) == ["first"]

    write(path, GOOD.format(name="second"), 2_000_000_000)
    clock.advance(1.0)
    assert names(store.current()) == ["first"]  # not re-stat'ed within the interval
    clock.advance(1.5)
    assert names(store.current()) == ["second"]
    assert store.last_error is None


def test_keeps_the_last_good_mapping_when_the_file_turns_bad(tmp_path, clock, caplog):
    path = tmp_path / "mapping.yaml"
    write(path, GOOD.format(name="good"), 1_000_000_000)
    store = MappingStore(path, env={}, check_interval=2.0, clock=clock)
    good = store.current()

    write(path, BAD, 2_000_000_000)
    clock.advance(5)
    with caplog.at_level(logging.ERROR, logger="bridge.mapping.store"):
        assert store.current() is good
    assert [str(problem) for problem in store.last_error] == [
        f"{path}:6:11: routes[0].body: 'native' is not a body shape;"
        " use one of native-review, passthrough, survey"]
    assert f"{path}:6:11: routes[0].body" in caplog.text

    # The same bad file is not re-read or re-logged on every check.
    caplog.clear()
    clock.advance(5)
    with caplog.at_level(logging.ERROR, logger="bridge.mapping.store"):
        assert store.current() is good
    assert caplog.text == ""

    write(path, GOOD.format(name="fixed"), 3_000_000_000)
    clock.advance(5)
    assert names(store.current()) == ["fixed"]
    assert store.last_error is None


def test_a_same_size_edit_within_the_same_second_is_seen_by_mtime_ns(tmp_path, clock):
    path = tmp_path / "mapping.yaml"
    write(path, GOOD.format(name="aaaa"), 1_000_000_000)
    store = MappingStore(path, env={}, check_interval=0, clock=clock)
    assert names(store.current()) == ["aaaa"]
    write(path, GOOD.format(name="bbbb"), 1_000_000_001)
    assert names(store.current()) == ["bbbb"]


def test_a_deleted_file_keeps_the_last_good_mapping(tmp_path, clock):
    path = tmp_path / "mapping.yaml"
    write(path, GOOD.format(name="good"), 1_000_000_000)
    store = MappingStore(path, env={}, clock=clock)
    good = store.current()
    path.unlink()
    clock.advance(10)
    assert store.current() is good
    assert "mapping file not found" in store.last_error[0].message


def test_a_missing_file_at_startup_raises_a_clear_error(tmp_path, clock):
    store = MappingStore(tmp_path / "absent.yaml", env={}, clock=clock)
    with pytest.raises(MappingError, match="mapping file not found; set BRIDGE_MAPPING"):
        store.current()


def test_a_bad_file_at_startup_raises_with_positions(tmp_path, clock):
    path = tmp_path / "mapping.yaml"
    write(path, BAD, 1_000_000_000)
    store = MappingStore(path, env={}, clock=clock)
    with pytest.raises(MappingError) as caught:
        store.current()
    assert str(caught.value).startswith(f"{path}:6:11: routes[0].body")
    # Fixed later: the next call loads it (no good mapping yet, so no waiting).
    write(path, GOOD.format(name="good"), 2_000_000_000)
    assert names(store.current()) == ["good"]


def test_building_a_store_reads_nothing(tmp_path, clock, monkeypatch):
    # A web process builds its runtime before it needs the mapping: building the store
    # neither stats nor reads the file; its first use does.
    path = tmp_path / "mapping.yaml"
    write(path, GOOD.format(name="before"), 1_000_000_000)
    reads, stats = [], []
    real_read, real_stat = store_module.read_mapping_file, os.stat

    def counting_read(name):
        reads.append(str(name))
        return real_read(name)

    def counting_stat(name, *args, **kwargs):
        if str(name) == str(path):
            stats.append(str(name))
        return real_stat(name, *args, **kwargs)

    monkeypatch.setattr(store_module, "read_mapping_file", counting_read)
    monkeypatch.setattr(os, "stat", counting_stat)
    store = MappingStore(path, env={}, clock=clock)
    assert reads == [] and stats == []
    assert store.last_error is None

    write(path, GOOD.format(name="after"), 2_000_000_000)  # changed after building, before use
    assert names(store.current()) == ["after"]
    assert reads == [str(path)] and stats


def test_reload_rereads_now(tmp_path, clock):
    path = tmp_path / "mapping.yaml"
    write(path, GOOD.format(name="one"), 1_000_000_000)
    store = MappingStore(path, env={}, check_interval=3600, clock=clock)
    store.current()
    write(path, GOOD.format(name="two"), 2_000_000_000)
    assert names(store.reload()) == ["two"]
