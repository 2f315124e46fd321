"""`bridge run` / `make run`: the whole bridge on one machine, set up on the spot.

It applies migrations, then starts `bridge web` and `bridge worker` as child
processes and stops them together. For a newcomer with no settings at all it:
- creates a development webhook secret in `instance/dev-secret` (and says so);
- when no Kustomer settings exist, starts `bridge kustomer-emulator` beside the
  bridge and points the bridge at it, saying so loudly. The production commands
  (`bridge web`, `bridge worker`) never do either.
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

from bridge.config import INSTANCE_DIR, Settings

EMULATOR_PORT = 8099


def _dev_secret() -> str:
    path = INSTANCE_DIR / "dev-secret"
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


def _banner(lines: list[str]) -> None:
    width = max(len(line) for line in lines) + 4
    click.secho("=" * width, fg="yellow", err=True)
    for line in lines:
        click.secho(f"  {line}", fg="yellow", err=True)
    click.secho("=" * width, fg="yellow", err=True)


def run_all(port: int | None) -> None:
    from bridge.migrate import upgrade

    env = dict(os.environ)
    if port:
        env["PORT"] = str(port)
    env.setdefault("PORT", "8000")
    notes = []
    if not env.get("OKENDO_WEBHOOK_SECRET"):
        env["OKENDO_WEBHOOK_SECRET"] = _dev_secret()
        notes.append(f"OKENDO_WEBHOOK_SECRET not set: using a development secret from {INSTANCE_DIR}/dev-secret")

    children: list[subprocess.Popen] = []
    bridge_cmd = [sys.executable, "-m", "bridge.cli"]
    if not (env.get("KUSTOMER_API_KEY") and (env.get("KUSTOMER_REVIEW_HOOK_URL") or env.get("KUSTOMER_API_BASE"))):
        emulator = f"http://127.0.0.1:{EMULATOR_PORT}"
        env.update(
            KUSTOMER_API_KEY=env.get("EMULATOR_API_KEY", "emulator-key"),
            KUSTOMER_API_BASE=emulator,
            KUSTOMER_REVIEW_HOOK_URL=f"{emulator}/v1/hooks/web/reviews",
            KUSTOMER_SURVEY_HOOK_URL=f"{emulator}/v1/hooks/web/surveys",
        )
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
    url = f"http://127.0.0.1:{env['PORT']}/webhooks/okendo"
    notes += [
        f"bridge listening on port {env['PORT']}; database {settings.database_url}",
        "try: bridge send-sample bridge/samples/review-create-negative.json --url " + url,
        "then: bridge events list",
    ]
    _banner(notes)
    _supervise(children)


def _setup_emulator_timeline(emulator: str, api_key: str) -> None:
    """Create the timeline klasses in the emulator, so the demo shows cards (as a real org
    would after `bridge kustomer setup-timeline`). Best effort: the demo works without."""
    import requests

    from bridge.kustomer import KustomerClient
    from bridge.timeline.setup import setup_timeline

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
