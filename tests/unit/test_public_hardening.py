"""Issue 13 parts 4 and 7: a public bridge that a stranger cannot knock over or misuse."""
import base64
import logging

import pytest
from sqlalchemy import event as sa_event
from werkzeug.security import generate_password_hash

from bridge.admin import login_limit
from bridge.app import create_app
from bridge.config import Settings
from bridge.logs import mask
from bridge.web import hosting
from tests.conftest import make_env

PASSWORD = "hashed pw"


def basic(username: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


@pytest.fixture
def hashed_app(database_url, monkeypatch):
    """An app whose admin password is a werkzeug hash, counting every hash check."""
    from bridge.admin import auth

    env = make_env(database_url, ADMIN_PASSWORD="", ADMIN_PASSWORD_HASH=generate_password_hash(PASSWORD))
    app = create_app(Settings.from_env(env))
    calls = []
    real = auth.check_password_hash
    monkeypatch.setattr(auth, "check_password_hash", lambda *a: calls.append(1) or real(*a))
    app.hash_calls = calls
    yield app
    app.extensions["bridge"].close()


def guess(app, password, ip="203.0.113.7", client=None):
    client = client or app.test_client()
    return client.get("/admin/", headers=basic("admin", password), environ_base={"REMOTE_ADDR": ip})


# -- part 4: login limit, logged failures, one hash per session -----------------------------
def test_guessing_is_limited_per_client_before_any_hash_is_computed(hashed_app):
    for n in range(login_limit.PER_CLIENT):
        assert guess(hashed_app, f"wrong {n}").status_code == 401
    assert len(hashed_app.hash_calls) == login_limit.PER_CLIENT
    refused = guess(hashed_app, "another guess")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert guess(hashed_app, PASSWORD).status_code == 429  # even the right one, from this client
    assert len(hashed_app.hash_calls) == login_limit.PER_CLIENT  # refused before hashing
    assert guess(hashed_app, PASSWORD, ip="198.51.100.9").status_code == 200  # other clients are not


def test_guessing_from_many_addresses_is_limited_overall(hashed_app):
    limiter = hashed_app.extensions["bridge.admin.login_limit"]
    for n in range(login_limit.OVERALL):
        limiter.failed(f"10.0.{n // 250}.{n % 250}")
    hashes = len(hashed_app.hash_calls)
    assert guess(hashed_app, "guess", ip="192.0.2.200").status_code == 429
    assert len(hashed_app.hash_calls) == hashes


def test_an_admin_already_logged_in_is_not_locked_out_by_an_attack(hashed_app):
    client = hashed_app.test_client()
    assert guess(hashed_app, PASSWORD, client=client).status_code == 200
    limiter = hashed_app.extensions["bridge.admin.login_limit"]
    for n in range(login_limit.OVERALL):
        limiter.failed(f"10.1.0.{n}")
    assert guess(hashed_app, PASSWORD, client=client).status_code == 200


def test_a_failed_login_is_logged_with_the_client_address_and_username(hashed_app, caplog):
    with caplog.at_level(logging.WARNING, logger="bridge.admin.auth"):
        hashed_app.test_client().get("/admin/", headers=basic("mallory", "nope"),
                                     environ_base={"REMOTE_ADDR": "203.0.113.50"})
    [record] = [r for r in caplog.records if "login failed" in r.getMessage()]
    assert "203.0.113.50" in record.getMessage() and "'mallory'" in record.getMessage()
    assert "nope" not in record.getMessage()


def test_the_password_hash_runs_once_per_session(hashed_app):
    client = hashed_app.test_client()
    creds = hashed_app.extensions["bridge.admin.credentials"]
    for _ in range(5):
        creds._verified.clear()  # another gunicorn process or dyno: no per-process memory
        assert guess(hashed_app, PASSWORD, client=client).status_code == 200
    assert len(hashed_app.hash_calls) == 1


def test_a_remembered_session_needs_the_same_password(hashed_app):
    client = hashed_app.test_client()
    assert guess(hashed_app, PASSWORD, client=client).status_code == 200
    assert guess(hashed_app, "not it", client=client).status_code == 401


def test_the_client_address_comes_from_a_trusted_proxy_only():
    environ = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.1.1.1, 203.0.113.9"}
    assert hosting.client_ip(environ, "*") == "203.0.113.9"  # Heroku: the router appends the client
    assert hosting.client_ip(environ, "127.0.0.1,::1") == "10.0.0.1"  # not our proxy: its word is not taken
    assert hosting.forwarded_allow_ips({"DYNO": "web.1"}) == "*"
    assert hosting.forwarded_allow_ips({}) == "127.0.0.1,::1"
    assert hosting.forwarded_allow_ips({"FORWARDED_ALLOW_IPS": "10.0.0.5"}) == "10.0.0.5"


def test_gunicorn_trusts_forwarded_headers_by_platform(monkeypatch):
    import importlib

    import bridge.gunicorn_conf as conf

    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    monkeypatch.delenv("DYNO", raising=False)
    assert importlib.reload(conf).forwarded_allow_ips == "127.0.0.1,::1"
    monkeypatch.setenv("DYNO", "web.1")
    assert importlib.reload(conf).forwarded_allow_ips == "*"


# -- part 4: /metrics ---------------------------------------------------------------------
def test_metrics_token_is_required_when_set(database_url):
    app = create_app(Settings.from_env(make_env(database_url, METRICS_TOKEN="scrape-me")))
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert answer.status_code == 200 and b"okendo_bridge_up" in answer.data
    app.extensions["bridge"].close()


def test_on_heroku_metrics_stay_closed_until_a_token_is_set(database_url):
    app = create_app(Settings.from_env(make_env(database_url, DYNO="web.1")))
    answer = app.test_client().get("/metrics")
    assert answer.status_code == 403 and b"METRICS_TOKEN" in answer.data
    app.extensions["bridge"].close()


def test_concurrent_scrapes_share_one_computation(client, app):
    queries = []

    def count(*args):
        queries.append(1)

    engine = app.extensions["bridge"].db.engine
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        first = client.get("/metrics").data
        after_first = len(queries)
        assert after_first > 0
        for _ in range(10):
            assert client.get("/metrics").data == first
        assert len(queries) == after_first
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)


# -- part 7 -------------------------------------------------------------------------------
def test_readiness_checks_a_write_not_only_a_read(database_url):
    app = create_app(Settings.from_env(make_env(database_url)))
    engine = app.extensions["bridge"].db.engine

    @sa_event.listens_for(engine, "connect")
    def read_only(connection, _record):
        cursor = connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("SET SESSION default_transaction_read_only = on")
            connection.commit()  # a SET inside a rolled-back transaction would not stay
        cursor.close()

    engine.dispose()  # new connections are read-only
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503, answer.json
    assert answer.json["checks"]["database"].startswith("error")
    app.extensions["bridge"].close()


AUTH = basic("admin", "correct horse battery staple")


@pytest.mark.parametrize("url", ["/admin/events?page=100000000000000000000000",
                                 "/admin/events/100000000000000000000000"])
def test_huge_numbers_in_admin_urls_answer_400(client, url):
    assert client.get(url, headers=AUTH).status_code == 400


def test_a_nul_in_an_admin_search_is_not_a_500(client):
    # PostgreSQL refuses NUL in a text parameter.
    assert client.get("/admin/events?q=%00%ff&store=%00", headers=AUTH).status_code == 200


def test_a_huge_replay_id_answers_400(client):
    client.get("/admin/", headers=AUTH)
    assert client.post("/admin/events/100000000000000000000000/replay", headers=AUTH).status_code == 400


@pytest.mark.parametrize("url", ["/admin/events?since=999999999d", "/admin/replay?since=999999999d"])
def test_a_since_before_year_one_is_reported_not_a_500(client, url):
    answer = client.get(url, headers=AUTH)
    assert answer.status_code == 200
    assert "before the year 1" in answer.get_data(as_text=True)


def test_the_admin_redirect_does_not_reflect_the_host_header(client):
    answer = client.get("/admin", headers={"Host": "evil.example"})
    assert answer.status_code in (301, 308)
    assert answer.headers["Location"] == "/admin/"


def test_the_session_cookie_is_secure_over_https_only(client):
    over_https = client.get("/admin/", headers=AUTH, base_url="https://bridge.example")
    assert "Secure" in over_https.headers["Set-Cookie"]
    over_http = client.application.test_client().get("/admin/", headers=AUTH, base_url="http://localhost")
    assert "Secure" not in over_http.headers["Set-Cookie"]


@pytest.mark.parametrize("text, leaked", [
    ("иван@пример.рф", "иван"),
    ("jörg.müller@exämple.de", "jörg.müller"),
    ("o'brien@example.com", "o'brien"),
    ("GET /v1/customers/email=%D0%B8%D0%B2%D0%B0%D0%BD%40%D0%BF%D1%80%D0%B8%D0%BC%D0%B5%D1%80.%D1%80%D1%84", "%D0%B2%D0%B0"),
    ("GET /v1/customers/email=o%27brien%40x.io HTTP/1.1", "brien"),
])
def test_emails_are_masked_in_every_script_and_encoding(text, leaked):
    assert leaked not in mask(text)
