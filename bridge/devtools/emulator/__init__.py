"""A local Kustomer stand-in (test double) for tests, benchmarks and demos.

In memory, one process: see ``state.py`` for what it models and ``app.py`` for the
routes, the ``/__emulator`` controls and ``serve()``.
"""
from .app import create_emulator_app, serve

__all__ = ["create_emulator_app", "serve"]
