"""`bridge run` / `make run`: the whole bridge on one machine, set up on the spot.

It applies migrations, then starts `bridge web` and `bridge worker` as child
processes and stops them together. For a newcomer with no settings at all it:
- creates a development webhook secret in `instance/dev-secret` (and says so);
- creates a SECRET_KEY (`instance/dev-secret-key`) and an admin login (user `admin`, password
  in `instance/dev-admin-password`) when none is set, and prints the console's URL and login;
- when no Kustomer settings exist, starts `bridge kustomer-emulator` beside the
  bridge and points the bridge at it, saying so loudly;
- writes the settings it made up to `instance/demo.env` while it runs (removed when it
  stops), which every `bridge` command reads after `.env`, so `bridge preview`,
  `check-config` and `kustomer check` run beside the demo see what the demo uses.
The production commands (`bridge web`, `bridge worker`) never make anything up.
"""
from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import threading
import sys
import time

import click
import requests

from bridge.config import INSTANCE_DIR, Settings
from bridge.events.migrate import upgrade
from bridge.kustomer import KustomerClient
from bridge.timeline.setup import setup_timeline

EMULATOR_PORT = 8099


DEMO_ENV = "demo.env"


def _kept(name: str, make) -> str:
    """A value made once and kept in instance/<name> (readable by its owner only)."""
    path = INSTANCE_DIR / name
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def _dev_secret() -> str:
    return _kept("dev-secret", lambda: "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())


def _write_demo_env(values: dict[str, str]):
    path = INSTANCE_DIR / DEMO_ENV
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Written by `bridge run` while it runs, removed when it stops: the settings it made up,",
             "# so `bridge` commands run beside the demo use them too. Your own .env and environment win."]
    path.write_text("\n".join(lines + [f"{k}={v}" for k, v in sorted(values.items())]) + "\n")
    path.chmod(0o600)
    return path


def _banner(lines: list[str]) -> None:
    width = max(len(line) for line in lines) + 4
    click.secho("=" * width, fg="yellow", err=True)
    for line in lines:
        click.secho(f"  {line}", fg="yellow", err=True)
    click.secho("=" * width, fg="yellow", err=True)


def run_all(port: int | None) -> None:
    env = dict(os.environ)
    if port:
        env["PORT"] = str(port)
    env.setdefault("PORT", "8000")
    notes = []
    made_up: dict[str, str] = {}
    if not env.get("OKENDO_WEBHOOK_SECRET"):
        made_up["OKENDO_WEBHOOK_SECRET"] = _dev_secret()
        notes.append(f"OKENDO_WEBHOOK_SECRET not set: using a development secret from {INSTANCE_DIR}/dev-secret")
    if not env.get("SECRET_KEY"):
        made_up["SECRET_KEY"] = _kept("dev-secret-key", lambda: secrets.token_hex(32))
    if not (env.get("ADMIN_PASSWORD") or env.get("ADMIN_PASSWORD_HASH")):
        made_up["ADMIN_USERNAME"] = env.get("ADMIN_USERNAME") or "admin"
        made_up["ADMIN_PASSWORD"] = _kept("dev-admin-password", lambda: secrets.token_urlsafe(12))
    env.update(made_up)

    children: list[subprocess.Popen] = []
    bridge_cmd = [sys.executable, "-m", "bridge.cli"]
    if not (env.get("KUSTOMER_API_KEY") and (env.get("KUSTOMER_REVIEW_HOOK_URL") or env.get("KUSTOMER_API_BASE"))):
        emulator = f"http://127.0.0.1:{EMULATOR_PORT}"
        emulated = dict(
            KUSTOMER_API_KEY=env.get("EMULATOR_API_KEY", "emulator-key"),
            KUSTOMER_API_BASE=emulator,
            KUSTOMER_REVIEW_HOOK_URL=f"{emulator}/v1/hooks/web/reviews",
            KUSTOMER_SURVEY_HOOK_URL=f"{emulator}/v1/hooks/web/surveys",
        )
        env.update(emulated)
        made_up.update(emulated)
        children.append(subprocess.Popen(bridge_cmd + ["kustomer-emulator", "--port", str(EMULATOR_PORT)], env=env))
        threading.Thread(target=_setup_emulator_timeline, args=(emulator, env["KUSTOMER_API_KEY"]),
                         daemon=True).start()
        notes += [
            "NO KUSTOMER SETTINGS FOUND: using the local Kustomer EMULATOR at " + emulator,
            "Nothing reaches a real Kustomer. Set KUSTOMER_API_KEY, KUSTOMER_API_BASE and the",
            "KUSTOMER_*_HOOK_URL variables (or a .env file) to relay for real.",
            f"See what the emulator received: curl {emulator}/__emulator/received",
        ]

    settings = Settings.from_env(env)
    upgrade(settings.database_url)
    children.append(subprocess.Popen(bridge_cmd + ["web"], env=env))
    children.append(subprocess.Popen(bridge_cmd + ["worker"], env=env))
    demo_env = _write_demo_env(made_up) if made_up else None
    base = f"http://127.0.0.1:{env['PORT']}"
    notes += [
        f"bridge listening on port {env['PORT']}; database {settings.database_url}",
        f"admin console: {base}/admin/  " + (
            f"log in as {env['ADMIN_USERNAME']} / {made_up['ADMIN_PASSWORD']} (made up for this demo; "
            f"set ADMIN_USERNAME and ADMIN_PASSWORD for your own)" if "ADMIN_PASSWORD" in made_up
            else f"log in as {env.get('ADMIN_USERNAME') or '(set ADMIN_USERNAME)'} with your ADMIN_PASSWORD"),
        "try: bridge send-sample bridge/samples/review-create-negative.json --url " + base + "/webhooks/okendo",
        "then: bridge events list",
    ]
    _banner(notes)
    try:
        _supervise(children)
    finally:
        if demo_env is not None:
            demo_env.unlink(missing_ok=True)


def _setup_emulator_timeline(emulator: str, api_key: str) -> None:
    """Create the timeline klasses in the emulator, so the demo shows cards (as a real org
    would after `bridge kustomer setup-timeline`). Best effort: the demo works without."""
    for _ in range(100):
        try:
            if requests.get(f"{emulator}/__emulator/health", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.2)
    try:
        setup_timeline(KustomerClient(api_key, emulator, max_attempts=2, max_wait=2))
    except Exception:  # noqa: BLE001 - a demo nicety, never a reason to stop
        pass


def _supervise(children: list[subprocess.Popen]) -> None:
    """Wait until one child exits or we are told to stop; then stop them all."""
    stopping = False

    def stop(_signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 25
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
    failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    if failed and not stopping:
        sys.exit(1)
