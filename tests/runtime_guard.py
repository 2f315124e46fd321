"""Every runtime a test builds is closed when the test ends (a pytest plugin, autouse).

Many tests build their own app or runtime (`create_app(Settings.from_env(env))`,
`build_runtime(...)`) for a setting the shared fixtures do not have, and not all of them close
it, or close it only when their assertions pass. An unclosed runtime keeps its threads (the live
mapping's listener, the lease heartbeat) and its pooled connections for the rest of the session:
on PostgreSQL that is a LISTEN connection per leaked runtime, kept in a server shared by every
xdist worker (and printing tracebacks once the session's database is dropped under it).

`bridge.composition.build_runtime` is wrapped for the test's duration (in each module that
imported it by name), and whatever it built is closed at teardown. `Runtime.close` is
idempotent, so a test that closed its runtime itself loses nothing.
"""
from __future__ import annotations

import pytest

import bridge.app
import bridge.composition
import bridge.delivery.worker


@pytest.fixture(autouse=True)
def close_built_runtimes(monkeypatch):
    built = []
    build = bridge.composition.build_runtime

    def build_and_track(*args, **kwargs):
        runtime = build(*args, **kwargs)
        built.append(runtime)
        return runtime

    for module in (bridge.composition, bridge.app, bridge.delivery.worker):
        monkeypatch.setattr(module, "build_runtime", build_and_track)
    yield
    for runtime in reversed(built):
        runtime.close()
