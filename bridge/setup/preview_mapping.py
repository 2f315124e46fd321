"""Which mapping `bridge preview FILE` uses when no --mapping is given: the live one.

In database mode that is the newest version in the database, read through the live
settings like the processes do. Failure policy: a database that cannot be read (not
migrated yet on a fresh machine, or unreachable) is not an error for a preview: it falls
back to the file named by BRIDGE_MAPPING and says so on stderr. An invalid mapping raises
:class:`MappingError` as before.

It lives in ``setup/`` beside the live settings it reads the database through; in
``mapping/`` it made the mapping depend on ``setup/``, which itself builds on the mapping.
"""
from __future__ import annotations

import sys

from sqlalchemy.exc import SQLAlchemyError

from bridge.mapping import versions
from bridge.mapping.loader import load_mapping
from bridge.setup.live import LiveSettings


def live_mapping_for_preview(settings, db):
    if settings.mapping_source == "database":
        env = LiveSettings(settings.raw, db)
        try:
            with db.session() as session:
                row = versions.live(session)
        except SQLAlchemyError:
            row = None
            print(f"note: the database has no mapping versions to read (run `bridge db upgrade`);"
                  f" previewing with {settings.mapping_path}", file=sys.stderr)
        if row is not None:
            return versions.validate(row.yaml_text, f"mapping version {row.id}", env)
    return load_mapping(settings.mapping_path, env=settings.raw)
