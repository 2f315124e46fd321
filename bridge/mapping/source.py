"""Which store serves the live mapping: the database (default) or the file.

``BRIDGE_MAPPING_SOURCE=database`` (the default): versions in the database, edited and
published in the console (``/admin/mapping``) or with ``bridge mapping publish``; the file
named by ``BRIDGE_MAPPING`` is only read once, to seed version 1 into an empty table.

``BRIDGE_MAPPING_SOURCE=file``: the file is the live mapping, hot-reloaded when it
changes (for teams that review mapping changes in git). The console then shows the file
read-only and publishing is refused, so there is one place where changes are made.
"""
from __future__ import annotations
from bridge.mapping.database_store import DatabaseMappingStore
from bridge.mapping.store import MappingStore


def mapping_store(settings, db, env=None):
    """`env` resolves the mapping's ${VAR}s: the environment by default; the running processes
    pass the environment overlaid with the console's stored settings (bridge.setup.live)."""
    env = settings.raw if env is None else env
    if settings.mapping_source == "file":
        return MappingStore(settings.mapping_path, env=env)

    return DatabaseMappingStore(db, settings.mapping_path, env=env)
