"""Build and boot the app the way Heroku's Python buildpack does.

A fresh virtualenv, `pip install -r requirements.txt` from the repository root (hash-checked,
nothing else: not the project's setup.cfg, not the test extras), then the Procfile's
`release`, `web` and `worker` lines with the working directory at the root (Heroku's /app),
on a `postgres://` URL, with only the variables app.json declares (filled in as the Deploy
button would: values and generated secrets; the admin types nothing), then sets the app up
through the console's setup page as an admin would, and sees an event delivered.

It needs PostgreSQL (Heroku's add-on) and the package registry (pip's cache makes repeated
runs quick); it never reaches anything else.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import new_postgres_database
from tests.e2e.conftest import ROOT, free_port, wait_for
from tests.e2e.okendo_standin import OkendoStandIn

PG_URL = os.environ.get("TEST_DATABASE_URL")
pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def slug(tmp_path_factory) -> Path:
    """The virtualenv the buildpack would build: requirements.txt only."""
    venv = tmp_path_factory.mktemp("heroku") / "venv"
    # --without-pip plus `pip --python`: the test's own pip installs into the new venv, which
    # saves bootstrapping pip into it; the cache is pip's usual one, shared between runs.
    # --no-compile: pip byte-compiles every module of every package (half of the install's
    # CPU); the processes booted from the slug compile only what they import, on first use.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
         "--disable-pip-version-check", "--no-compile", "-r", "requirements.txt"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"pip install -r requirements.txt failed:\n{result.stdout}\n{result.stderr}"
    return venv


@pytest.fixture
def heroku_database_url():
    """A new, empty PostgreSQL database, named with the `postgres://` scheme Heroku uses."""
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set (the Heroku build test needs PostgreSQL)")
    with new_postgres_database("bridge_heroku") as url:
        yield "postgres://" + url.split("://", 1)[1]


def app_json_env(typed: dict[str, str]) -> dict[str, str]:
    """Config vars as the Deploy button sets them from app.json, plus what the admin typed."""
    spec = json.loads((ROOT / "app.json").read_text())["env"]
    env = {}
    for name, item in spec.items():
        if item.get("generator") == "secret":
            env[name] = secrets.token_hex(32)
        elif "value" in item:
            env[name] = item["value"]
    unknown = set(typed) - set(spec)
    assert not unknown, f"the test types values app.json does not declare: {unknown}"
    env.update(typed)
    missing = [n for n, item in spec.items() if item.get("required") and n not in env]
    assert not missing, f"the Deploy form would insist on {missing}"
    return env


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in lines if line.strip())}


def dyno_env(slug: Path, database_url: str, config: dict[str, str], port: int) -> dict[str, str]:
    """What a dyno's process sees: the slug's Python first on PATH, the add-on's DATABASE_URL,
    PORT, the config vars, and nothing from this test's environment."""
    return {"PATH": f"{slug / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(slug.parent),
            "LANG": "C.UTF-8", "DYNO": "web.1", "DATABASE_URL": database_url, "PORT": str(port), **config}


def start(line: str, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(shlex.split(line), cwd=ROOT, env=env, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(25)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait(5)


def setup_page_post(session: requests.Session, base: str, path: str, **form) -> requests.Response:
    page = session.get(f"{base}/admin/setup", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return session.post(f"{base}{path}", data={"csrf_token": token, **form}, timeout=30)


def test_buildpack_build_boots_with_only_app_json_and_is_set_up_in_the_console(slug, heroku_database_url, tmp_path):
    emulator_port, web_port, okendo_port = free_port(), free_port(), free_port()
    emulator_url, web_url = f"http://127.0.0.1:{emulator_port}", f"http://127.0.0.1:{web_port}"
    okendo = OkendoStandIn("okendo-user", "okendo-key-okendo-key-okendo-key")
    # Nothing typed into the Deploy form but where this test's stand-in for Okendo lives.
    config = app_json_env({"OKENDO_API_BASE": okendo.start(okendo_port)})
    env = dyno_env(slug, heroku_database_url, config, web_port)
    lines = procfile()
    emulator = subprocess.Popen([sys.executable, "-m", "bridge.cli", "kustomer-emulator", "--port",
                                 str(emulator_port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    processes = [emulator]
    try:
        release = subprocess.run(shlex.split(lines["release"]), cwd=ROOT, env=env, capture_output=True,
                                 text=True, timeout=120)
        assert release.returncode == 0, release.stdout + release.stderr

        web = start(lines["web"], env, tmp_path / "web.log")
        worker = start(lines["worker"], {**env, "DYNO": "worker.1"}, tmp_path / "worker.log")
        processes += [web, worker]

        def healthy():
            assert web.poll() is None, (tmp_path / "web.log").read_text()
            try:
                return requests.get(f"{web_url}/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False
        wait_for(healthy, 60, what="/healthz of the web dyno")
        body = (ROOT / "tests/samples/okendo/review-create-positive.json").read_bytes()
        waiting = requests.post(f"{web_url}/webhooks/okendo", data=body, timeout=5,
                                headers={"content-type": "application/json"})
        assert waiting.status_code == 503 and waiting.json()["error"] == "not set up yet"
        wait_for(lambda: "waiting for Kustomer settings" in (tmp_path / "worker.log").read_text(), 30,
                 what="the worker dyno to wait for settings")
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()

        # The admin reads the generated password (`heroku config:get ADMIN_PASSWORD`) and sets up.
        admin = requests.Session()
        admin.auth = (config["ADMIN_USERNAME"], config["ADMIN_PASSWORD"])
        connected = setup_page_post(admin, web_url, "/admin/setup/okendo", user_id=okendo.user_id,
                                    api_key=okendo.api_key)
        assert connected.status_code == 200 and "Okendo connected" in connected.text, connected.text
        checked = setup_page_post(admin, web_url, "/admin/setup/kustomer", KUSTOMER_API_KEY="emulator-key",
                                  KUSTOMER_API_BASE=emulator_url,
                                  KUSTOMER_REVIEW_HOOK_URL=f"{emulator_url}/v1/hooks/web/reviews",
                                  KUSTOMER_SURVEY_HOOK_URL=f"{emulator_url}/v1/hooks/web/surveys")
        assert "the key is valid" in checked.text and "FAIL" not in checked.text, checked.text

        [sub_id] = okendo.subscriptions
        # Each gunicorn process re-reads stored settings every 2 s, so the one that did not
        # serve the setup page may answer 503 "not set up yet" for that long: Okendo retries a
        # 503, and so does this test, until the first answer that is not a 503.
        def answered():
            response = okendo.deliver(sub_id, body)
            return response if response.status_code != 503 else None
        answer = wait_for(answered, 10, interval=0.5, what="the web dyno to see the stored settings")
        assert answer.status_code == 202, answer.text

        def delivered():
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            return requests.get(f"{emulator_url}/__emulator/received", timeout=2).json()["hooks"]
        wait_for(delivered, 60, what="the worker dyno to deliver the event")
        assert stop(worker) == 0 and stop(web) == 0
    finally:
        for process in processes:
            stop(process)
        okendo.stop()
