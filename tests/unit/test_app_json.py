"""app.json (Heroku's one-click deploy) must describe every setting the code reads."""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Reads of environment variables, however they are spelled in the code.
ENV_READ = re.compile(
    r"""(?:environ\.get|environ\[|getenv|env\.get|env\[|_int\(env,|_float\(env,|_number\(env,|_port\(env,|raw\.get)\(?\s*["']([A-Z][A-Z0-9_]+)["']"""
)
# Set by the platform, or read only by development tools (the emulator, `bridge run`).
NOT_FOR_APP_JSON = {
    "PORT": "Heroku sets it",
    "EMULATOR_API_KEY": "the local Kustomer emulator only",
    "EMULATOR_RATE_LIMIT": "the local Kustomer emulator only",
    "EMULATOR_HOOK_LIMIT": "the local Kustomer emulator only",
    "BRIDGE_INSTANCE_DIR": "where the SQLite default lives; Heroku uses DATABASE_URL",
    "DYNO": "Heroku sets it (the bridge reads it to know it runs there)",
}


def env_vars_read_by_code() -> set[str]:
    names = set()
    for path in (ROOT / "bridge").rglob("*.py"):
        names |= set(ENV_READ.findall(path.read_text()))
    return names


def test_app_json_parses_and_declares_what_heroku_needs():
    app = json.loads((ROOT / "app.json").read_text())
    assert {"web", "worker"} <= set(app["formation"])
    assert any(a["plan"].startswith("heroku-postgresql") for a in app["addons"])
    assert app["env"]["SECRET_KEY"]["generator"] == "secret"
    for name, spec in app["env"].items():
        assert spec.get("description"), f"{name} has no description"
        assert "required" in spec or "generator" in spec or "value" in spec, name
    assert "python -m bridge db upgrade" in app["scripts"]["postdeploy"]


def test_every_env_var_the_code_reads_is_in_app_json():
    app_env = set(json.loads((ROOT / "app.json").read_text())["env"])
    read = env_vars_read_by_code()
    assert {"OKENDO_WEBHOOK_SECRET", "KUSTOMER_API_KEY", "DATABASE_URL"} <= read | {"DATABASE_URL"}
    missing = read - app_env - set(NOT_FOR_APP_JSON) - {"DATABASE_URL"}  # the add-on sets DATABASE_URL
    assert not missing, f"read by the code but not in app.json: {sorted(missing)}"


def test_procfile_runs_release_web_and_worker():
    lines = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert {k: v.strip() for k, v in lines.items()} == {
        "release": "python -m bridge db upgrade", "web": "python -m bridge web",
        "worker": "python -m bridge worker"}


def test_python_version_file_names_a_supported_python():
    version = (ROOT / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.(1[1-9])(\.\d+)?", version)


def test_app_json_leaves_web_concurrency_to_heroku():
    spec = json.loads((ROOT / "app.json").read_text())["env"]["WEB_CONCURRENCY"]
    assert "value" not in spec, "a value here overrides Heroku's per-dyno-size default"


def test_default_connections_fit_the_provisioned_plan_with_room_to_spare(monkeypatch):
    """docs/operations.md: a web process holds threads + 1 connections, a worker 2 x threads + 2.
    essential-0 allows 20; the release phase and a `heroku run` need a few more."""
    import importlib

    from bridge.config import Settings

    app = json.loads((ROOT / "app.json").read_text())
    assert any(a["plan"] == "heroku-postgresql:essential-0" for a in app["addons"])
    for name in ("WEB_CONCURRENCY", "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    gunicorn_conf = importlib.reload(importlib.import_module("bridge.gunicorn_conf"))
    defaults = {n: s["value"] for n, s in app["env"].items() if "value" in s}
    web = gunicorn_conf.workers * (int(defaults.get("GUNICORN_THREADS", gunicorn_conf.threads)) + 1)
    worker = 2 * Settings.from_env(defaults).worker_threads + 2
    assert web + worker <= 20 - 6, f"web {web} + worker {worker} leave too little of 20"
    assert f"{web + worker} of essential-0's 20" in app["description"]
