"""Fixtures: `settings`, `runtime`, `app`, `client`, `runner` (the Flask tutorial's set).

Every test that touches storage runs on SQLite (a file on disk) and, when
`TEST_DATABASE_URL` is set (CI sets it), on PostgreSQL too. On PostgreSQL each
test session gets a database of its own, created from TEST_DATABASE_URL and
dropped at the end; tables are emptied between tests. A test that starts processes
(marked `e2e`) gets a database of its own instead, copied from a migrated template and
dropped with its connections when it ends, so a process that outlived an earlier test can
never take this test's events.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bridge.config import Settings, normalize_database_url
from tests import hypothesis_profiles  # noqa: F401 - registers and loads the profiles first
from tests.helpers import SECRET

pytest_plugins = ["tests.cpu_report", "tests.mapping_cache", "tests.process_guard", "tests.runtime_guard",
                  "tests.template_cache", "tests.xdist_groups"]

PG_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])
KUSTOMER_BASE = "https://acme.api.kustomerapp.com"
REVIEW_HOOK = f"{KUSTOMER_BASE}/v1/hooks/web/reviewhash123456"
SURVEY_HOOK = f"{KUSTOMER_BASE}/v1/hooks/web/surveyhash654321"
TABLES = ("attempts", "actions", "tickets", "events", "mapping_audit", "mapping_drafts", "mapping_versions",
          "stored_settings", "alert_deliveries", "alert_messages", "alert_state", "signature_refusals",
          "metric_counts")


@contextmanager
def new_postgres_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database on TEST_DATABASE_URL's server (its URL), empty or a copy of
    the database `template`, dropped after (with any connection still open to it).
    An unreachable server ends the run (CI must fail loudly, not skip)."""
    admin_url = make_url(normalize_database_url(PG_URL))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    except Exception as exc:  # noqa: BLE001 - see the docstring
        pytest.exit(f"TEST_DATABASE_URL={PG_URL} is unreachable: {exc}", returncode=3)
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh PostgreSQL database for this test session, migrated to head."""
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    from bridge.events.migrate import upgrade

    with new_postgres_database("bridge_test") as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def postgres_template():
    """The name of a PostgreSQL database migrated to head once per session (per xdist
    worker), which nothing connects to: each e2e test gets a copy of it (`CREATE DATABASE
    ... TEMPLATE`, a file copy, cheaper than a migration)."""
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    from bridge.events.migrate import upgrade

    with new_postgres_database("bridge_template") as url:
        upgrade(url)  # its engine is disposed: a template must have no connection
        yield make_url(url).database


# One engine (one open connection) per session database: a new engine per test cost a
# connection, i.e. a PostgreSQL backend started and ended, each time. DROP DATABASE ... WITH
# (FORCE) closes it at the end of the session.
_EMPTYING_ENGINES: dict = {}


def _empty_postgres(url: str) -> None:
    """Empty every table of the session's database and restart its ids at 1, as a fresh copy
    would have them. DELETE, not TRUNCATE: on tables of a few rows TRUNCATE cost about 45 ms a
    test (new files for every table, written out at commit) against 3 ms; a run has some 700
    PostgreSQL unit tests. Children are deleted before their parents (`TABLES`' order), and a
    table the migrations add but `TABLES` does not name fails the test instead of keeping rows."""
    engine = _EMPTYING_ENGINES.get(url)
    if engine is None:
        engine = _EMPTYING_ENGINES[url] = create_engine(url, pool_size=1, pool_pre_ping=True)
    with engine.begin() as connection:
        present = set(connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )).scalars())
        assert present == set(TABLES), f"tests/conftest.py TABLES is out of date: {sorted(present ^ set(TABLES))}"
        for table in TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(text("SELECT setval(c.oid, 1, false) FROM pg_class c "
                                "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite database migrated to head once per session (per xdist worker); each test
    gets a copy of it, which is the same database at a fraction of a migration's cost."""
    from bridge.events.migrate import upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "bridge.db"
    upgrade(f"sqlite:///{path}")
    # One self-contained file to copy: fold the write-ahead log in and leave WAL mode (the
    # bridge's engine turns WAL on again when it opens the copy).
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")
    return path


@contextmanager
def e2e_database(request, backend: str, directory: Path) -> Iterator[str]:
    """A database for processes to share (the URL): on PostgreSQL a copy of the migrated
    template, dropped with its connections afterwards; on SQLite a copy of the migrated file
    in `directory`. `request` may be module-scoped (a stack shared by a module's tests)."""
    if backend == "postgres":
        with new_postgres_database("bridge_e2e", template=request.getfixturevalue("postgres_template")) as url:
            yield url
        return
    path = directory / "bridge.db"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    yield f"sqlite:///{path}"


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    if request.param == "postgres" and not request.node.get_closest_marker("e2e"):
        url = request.getfixturevalue("postgres_url")
        _empty_postgres(url)
        yield url
        return
    # processes (e2e) get a PostgreSQL database of their own; SQLite is a file per test anyway
    with e2e_database(request, request.param, tmp_path) as url:
        yield url


def make_env(database_url: str, **overrides) -> dict:
    env = {
        "DATABASE_URL": database_url,
        "OKENDO_WEBHOOK_SECRET": SECRET,
        "KUSTOMER_API_KEY": "test-kustomer-key",
        "KUSTOMER_API_BASE": KUSTOMER_BASE,
        "KUSTOMER_REVIEW_HOOK_URL": REVIEW_HOOK,
        "KUSTOMER_SURVEY_HOOK_URL": SURVEY_HOOK,
        "BRIDGE_MAPPING": os.path.join(os.path.dirname(__file__), "mappings", "default.yaml"),
        "BRIDGE_RETRY_SCHEDULE": "1,2,3",
        "SECRET_KEY": "test-secret-key",
        "ADMIN_USERNAME": "admin",
        "ADMIN_PASSWORD": "correct horse battery staple",
    }
    env.update({k: v for k, v in overrides.items() if v is not None})
    return env


@pytest.fixture
def env(database_url):
    return make_env(database_url)


@pytest.fixture
def settings(env):
    return Settings.from_env(env)


@pytest.fixture
def runtime(settings):
    from bridge.composition import build_runtime

    runtime = build_runtime(settings)
    # The Kustomer client's in-call backoff must not really wait in unit tests.
    runtime.processor.clients.sleep = lambda seconds: None
    yield runtime
    runtime.close()


@pytest.fixture
def kustomer():
    """Kustomer mocked with `responses`: register what a test expects on it.

    Every request the test sends to a Kustomer host is checked against Kustomer's contract
    when the test ends (tests/kustomer_contract.py): a body Kustomer would refuse fails it.
    """
    from tests.kustomer_contract import checked_mock

    with checked_mock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def app(runtime):
    from bridge.app import create_app

    app = create_app(runtime=runtime)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(env, monkeypatch):
    """Invoke the `bridge` CLI in-process with the test environment."""
    from click.testing import CliRunner

    from bridge.cli import main

    for key, value in env.items():
        monkeypatch.setenv(key, value)

    class Runner:
        def invoke(self, *args, **kwargs):
            return CliRunner().invoke(main, list(args), catch_exceptions=False, **kwargs)

    return Runner()


def drain(runtime, limit: int = 100) -> int:
    """Run due events by hand, as a worker thread would, until none is due (retries
    scheduled for later stay waiting)."""
    ran = 0
    while ran < limit and runtime.processor.process_next():
        ran += 1
    return ran
