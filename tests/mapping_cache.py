"""A cache of loaded mappings for the test process: the same few files, loaded once.

Loading a mapping (YAML with positions, the schema, every template compiled and tried on the
bundled samples) costs a few tenths of a second of CPU, and the tests load the same handful of
files again and again: every `runtime` seeds version 1 from tests/mappings/default.yaml
(one load to validate it, one to serve it), and every web request that needs the mapping
loads it in a new process-like runtime. That was about a third of the unit tests' CPU.

What is cached, and why it proves the same: `bridge.mapping.loader._load_checked` is the
whole pipeline, and its result is a function of its arguments only (the text, the source
name, the three steps it is given) and of the environment values it reads. The cache
records which names the pipeline read from `env` and with what result (set, unset), and a
later load is served from the cache only when the text, source and steps are the same and
every one of those names reads the same again; a load that listed the whole environment
is not cached. Only successful loads are kept (a refusal is recomputed every time, so every
error message still comes from the real pipeline), and each hit is a deep copy, so a test
gets a Mapping of its own as from a fresh load. The first load of each file in each
pytest process runs the real pipeline; the loader's own tests still load every text they
build. Processes the e2e tests start do not use it.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping

import pytest

from bridge.mapping import loader

_UNSET = object()
LIMIT = 256  # entries kept; the fuzz tests load many texts that are never seen again


class _Reads(Mapping):
    """`env`, recording every name read from it and the answer."""

    def __init__(self, env):
        self.env = env
        self.read: dict[str, object] = {}
        self.listed = False

    def __getitem__(self, name):
        try:
            value = self.env[name]
        except KeyError:
            self.read[name] = _UNSET
            raise
        self.read[name] = value
        return value

    def __iter__(self):
        self.listed = True
        return iter(self.env)

    def __len__(self):
        self.listed = True
        return len(self.env)


class LoadCache:
    def __init__(self, load):
        self.load = load
        self.entries: dict[tuple, list[tuple[dict, object]]] = {}
        self.hits = self.misses = 0

    def __call__(self, text, source, env, *steps):
        key = (text, source, steps)
        for reads, mapping in self.entries.get(key, ()):
            if all(env.get(name, _UNSET) == value for name, value in reads.items()):
                self.hits += 1
                return copy.deepcopy(mapping)
        self.misses += 1
        recording = _Reads(env)
        mapping = self.load(text, source, recording, *steps)  # raises MappingError: not cached
        if not recording.listed:
            if sum(map(len, self.entries.values())) >= LIMIT:
                self.entries.pop(next(iter(self.entries)))
            self.entries.setdefault(key, []).append((recording.read, copy.deepcopy(mapping)))
        return mapping


@pytest.fixture(scope="session", autouse=True)
def _cached_mapping_loads():
    cache = LoadCache(loader._load_checked)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loader, "_load_checked", cache)
        yield cache
