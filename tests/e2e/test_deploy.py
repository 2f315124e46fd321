"""The Procfile's commands, run as Heroku would run them, and `bridge kustomer check` (in this
process, through Click's runner, against the emulator over HTTP)."""
import signal
import subprocess
import sys

import pytest
import requests

from tests.e2e.conftest import ROOT, Stack, free_port, stack_env, wait_for


@pytest.fixture
def bare(database_url, tmp_path):
    """A stack with nothing started yet."""
    web_port, emulator_port = free_port(), free_port()
    stack = Stack(env=stack_env(database_url, tmp_path, web_port, emulator_port), tmp=tmp_path)
    stack.web_url = f"http://127.0.0.1:{web_port}"
    stack.emulator_url = f"http://127.0.0.1:{emulator_port}"
    yield stack
    stack.close()


def procfile() -> dict:
    return {k.strip(): v.strip() for k, v in
            (line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())}


def procfile_args(command: str) -> list[str]:
    """`python -m bridge web` -> ["web"]: the bridge's arguments of a Procfile line."""
    program = ["python", "-m", "bridge"]
    assert command.split()[:3] == program, command
    return command.split()[3:]


def run_procfile_command(stack, command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bridge", *procfile_args(command)], env=stack.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_release_command_is_idempotent(bare):
    for _ in range(2):
        result = run_procfile_command(bare, procfile()["release"])
        assert result.returncode == 0, result.stderr
        assert "up to date" in result.stdout


def test_web_and_worker_start_serve_and_stop_gracefully_on_sigterm(bare):
    run_procfile_command(bare, procfile()["release"])
    bare.start_emulator()
    bare.start("web", *procfile_args(procfile()["web"]), ready_url=f"{bare.web_url}/healthz")
    bare.start("worker", *procfile_args(procfile()["worker"]))
    assert requests.get(f"{bare.web_url}/readyz", timeout=5).status_code == 200
    bare.send(ROOT / "tests/samples/okendo/review-create-positive.json")
    assert bare.wait_until_settled(1)[0]["status"] == "delivered"
    # Heroku sends SIGTERM and waits 30 s: both must exit cleanly well before that.
    assert bare.stop("worker", signal.SIGTERM, timeout=25) == 0
    assert bare.stop("web", signal.SIGTERM, timeout=25) == 0


def test_web_starts_without_a_webhook_secret_and_answers_not_set_up_yet(bare):
    run_procfile_command(bare, procfile()["release"])
    bare.env.pop("OKENDO_WEBHOOK_SECRET")
    bare.start("web", *procfile_args(procfile()["web"]), ready_url=f"{bare.web_url}/healthz")
    answer = requests.post(bare.webhook_url, data=b"{}", headers={"content-type": "application/json"}, timeout=5)
    assert answer.status_code == 503 and answer.json()["error"] == "not set up yet"
    assert "connect Okendo" in bare.log("web") and "admin console at /admin/" in bare.log("web")
    assert bare.stop("web", signal.SIGTERM, timeout=25) == 0


def test_web_refuses_to_start_on_an_unmigrated_database(bare, tmp_path):
    bare.env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'empty.db'}"
    result = run_procfile_command(bare, procfile()["web"])
    assert result.returncode != 0
    assert "bridge db upgrade" in result.stderr


def test_kustomer_check_passes_against_the_emulator_and_explains_a_bad_key(bare):
    bare.start_emulator()
    good = bare.cli("kustomer", "check", check=False)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "the key is valid" in good.stdout and "FAIL" not in good.stdout
    assert "route reviews" in good.stdout
    received = requests.get(f"{bare.emulator_url}/__emulator/received", timeout=5).json()
    assert received["hooks"] == [] and received["customers"] == []  # nothing created

    bare.env["KUSTOMER_API_KEY"] = "not-the-key"
    bad = bare.cli("kustomer", "check", check=False)
    assert bad.returncode == 1
    assert "FAIL Kustomer refused the key" in bad.stdout
    assert "not-the-key" not in bad.stdout


def test_kustomer_check_names_a_missing_hook_url(bare):
    bare.start_emulator()
    bare.env.pop("KUSTOMER_SURVEY_HOOK_URL")
    result = bare.cli("kustomer", "check", check=False)
    assert result.returncode == 1
    assert "KUSTOMER_SURVEY_HOOK_URL is not set" in result.stdout


def test_worker_waits_for_kustomer_settings_instead_of_crashing(bare):
    run_procfile_command(bare, procfile()["release"])
    bare.env.pop("KUSTOMER_API_KEY")
    worker = bare.start("worker", *procfile_args(procfile()["worker"]))
    wait_for(lambda: "waiting for Kustomer settings" in bare.log("worker"), 30, what="the worker to say it waits")
    assert worker.poll() is None  # up, not in a crash loop
    assert bare.stop("worker", signal.SIGTERM, timeout=25) == 0
