"""Compiled admin-page templates shared by every Flask app of the test process.

Each test builds its own app (`create_app`), and a new app has a new Jinja environment
that compiles every page it renders again: about 40 ms of CPU for the first admin page of
each test, several times the cost of rendering it. Jinja's bytecode cache is its own answer
to that: the compiled code of a template, keyed by its name and checked against a hash of
its source, so a changed template is compiled again. Here it is kept in memory and given to
every Flask app this process builds (`Flask.jinja_options`); the templates render exactly as
they would from a fresh compile. The mapping's sandboxed templates do not use it.
"""
from __future__ import annotations

import flask
import jinja2
import pytest


class MemoryBytecodeCache(jinja2.BytecodeCache):
    def __init__(self):
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self.compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)  # ignored by Jinja when the source changed

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(scope="session", autouse=True)
def _shared_template_bytecode():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flask.Flask, "jinja_options", {**flask.Flask.jinja_options,
                                                     "bytecode_cache": MemoryBytecodeCache()})
        yield
