"""Apply the Alembic migrations shipped inside the package (`bridge db upgrade`).

Idempotent: running it on an up-to-date database does nothing, so Heroku's
release phase and `make run` can call it every time.
"""
from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bridge.events.db import make_engine

# bridge/migrations/, beside the package root where setup.cfg ships it as package data.
MIGRATIONS = Path(__file__).parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would choke on a '%' in a password.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    engine = make_engine(database_url)
    # Reading the revision is not news: alembic's "Context impl ..." lines would open the
    # output of every CLI command that checks it.
    quiet = logging.getLogger("alembic.runtime.migration")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        quiet.setLevel(level)
        engine.dispose()


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
