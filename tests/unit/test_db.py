"""The database layer's connection handling (bridge.events.db).

PostgreSQL: a pooled connection is no longer pinged on every checkout (a round trip each),
only when it sat idle; one that died while idle (a server restart, a failover) must still
be replaced before anyone uses it, so a quiet process sees no error at all.
"""
import pytest
from sqlalchemy import create_engine, text

from bridge.events import db as dbmod
from bridge.events.db import Database


def test_a_connection_cut_while_idle_is_replaced_before_use(database_url, monkeypatch):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: a SQLite connection is a file handle, nothing to cut")
    monkeypatch.setattr(dbmod, "IDLE_PING_SECONDS", 0.0)  # every checkout counts as idle
    database = Database(database_url)
    try:
        with database.session() as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        killer = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with killer.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        killer.dispose()
        with database.session() as session:  # the ping finds the dead one; a new one serves
            assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
        with database.reading() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        database.dispose()
