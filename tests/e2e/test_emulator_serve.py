"""`serve()`, the emulator's gunicorn runner, in a real process: it reads its key and hook
limit from the environment, answers on its port and prints where it listens.

(The emulator's behaviour is tested through Flask's test client in tests/unit/test_emulator.py.)
"""
import os
import signal
import subprocess
import sys

import requests

from tests.e2e.conftest import ROOT, free_port, wait_for

AUTH = {"Authorization": "Bearer emulator-key"}


def test_serve_runs_under_gunicorn_and_accepts_hooks(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "emulator.log"
    env = {**os.environ, "EMULATOR_API_KEY": "from-env", "EMULATOR_HOOK_LIMIT": "5"}
    code = f"from bridge.devtools.emulator.app import serve; serve(port={port})"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def up():
            assert process.poll() is None, log.read_text()
            try:
                return requests.get(f"{base}/__emulator/health", timeout=1).status_code == 200
            except requests.RequestException:
                return False
        wait_for(up, 20, what=f"the emulator at {base}")
        response = requests.post(f"{base}/v1/hooks/web/reviews", json={"review": {"rating": 2}},
                                 headers={"Authorization": "Bearer from-env"}, timeout=5)
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "5"
        assert response.headers["x-ratelimit-remaining"] == "4"
        wrong_key = requests.post(f"{base}/v1/hooks/web/reviews", json={}, headers=AUTH, timeout=5)
        assert wrong_key.status_code == 401
        [record] = requests.get(f"{base}/__emulator/received", timeout=5).json()["hooks"]
        assert record["transaction"]["attributes"]["data"] == {"review": {"rating": 2}}
        banner = log.read_text()
        assert "EMULATOR" in banner and f"{base}/v1/hooks/web/reviews" in banner
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
