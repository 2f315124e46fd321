"""The `bridge` command (design.md section 5).

What every command shares is imported at the top; what only some commands run is imported
inside them, because importing this module must stay cheap (`bridge web` execs gunicorn,
`bridge events list` reads a few rows). Measured on top of `import bridge.cli`: the worker
~260 ms, `devtools.devrun` ~480 ms, the composition root ~560 ms, the live settings and the
mapping pipeline ~200-230 ms each, the preview ~240 ms, the emulator ~175 ms, the Kustomer
check ~170 ms, the timeline setup ~130 ms, alembic (`events.migrate`) ~85 ms, requests ~50 ms.
Each such import says which of these it is.
"""
from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from standardwebhooks import Webhook

from bridge.config import INSTANCE_DIR, ConfigError, Settings, load_dotenv_if_present
from bridge.delivery.replay import REPLAYABLE, UNKNOWN_MEANS, not_replayed, replay as replay_events
from bridge.events import store
from bridge.events.db import Database
from bridge.events.filters import EventFilter
from bridge.events.models import EventStatus
from bridge.logs import configure
from bridge.setup.waiting import wait_for_kustomer


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _db(settings: Settings):
    """The event store, after making sure it exists and is migrated: a command run in the
    wrong folder, or before `bridge db upgrade`, gets one clear line instead of creating an
    empty SQLite file and printing a traceback."""
    _require_migrated(settings)
    return Database(settings.database_url)


def _database_problem(exc: BaseException) -> str:
    """One line about a database error (drivers' messages run over several lines)."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(getattr(exc, 'orig', None) or exc).__name__}: {detail[0] if detail else ''}"


class BridgeGroup(click.Group):
    """`bridge`: any database error a command did not handle becomes one line, not a traceback.

    The command groups in `GROUPS` are imported only when named (or listed, for --help):
    `bridge.mapping.cli` alone pulls in the mapping pipeline, the Kustomer contract and
    jsonschema, about 40% of this module's import cost, which `bridge web` (it execs
    gunicorn), `bridge kustomer-emulator` and most one-shot commands never use."""

    GROUPS = {"okendo": "bridge.okendo.cli", "mapping": "bridge.mapping.cli", "alerts": "bridge.alerts.cli"}

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.GROUPS})

    def get_command(self, ctx, name):
        if name in self.GROUPS and name not in self.commands:
            self.add_command(getattr(importlib.import_module(self.GROUPS[name]), name))
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SQLAlchemyError as exc:
            raise click.ClickException(f"database error: {_database_problem(exc)} "
                                       "(is DATABASE_URL right, and `bridge db upgrade` run?)") from None


def _version() -> str:
    """The installed version; on Heroku the app runs from its source tree (`python -m bridge`),
    where no distribution is installed."""
    try:
        return version("okendo-kustomer-bridge")
    except PackageNotFoundError:
        return "source tree (not installed)"


@click.group(cls=BridgeGroup)
@click.version_option(version=_version(), prog_name="bridge")
def main() -> None:
    """Relay Okendo webhooks to Kustomer, durably."""
    load_dotenv_if_present()
    configure(os.environ.get("LOG_LEVEL", "INFO"))


# -- processes -------------------------------------------------------------------------
@main.command()
@click.option("--port", type=int, default=None, help="web port (default $PORT or 8000)")
def run(port: int | None) -> None:
    """Everything on one machine: migrations, web server, worker (and the Kustomer emulator
    when no Kustomer settings are present)."""
    from bridge.devtools.devrun import run_all  # local: ~480 ms (module docstring)

    run_all(port)


# What `bridge web` hands over to, after its checks: Python's arguments for the web server.
GUNICORN_ARGS = ("-m", "gunicorn", "--config", "python:bridge.gunicorn_conf", "bridge.wsgi:app")


@main.command()
def web() -> None:
    """Only the web server (gunicorn), as the Procfile's web process."""
    settings = _settings()
    _require_migrated(settings)
    _say_what_is_set_up(settings)
    os.execv(sys.executable, [sys.executable, *GUNICORN_ARGS])


@main.command()
@click.option("--threads", type=int, default=None, help="worker threads (default $BRIDGE_WORKER_THREADS or 2)")
def worker(threads: int | None) -> None:
    """Only the worker (threads claiming due events from the events table), as the Procfile's worker process."""
    from bridge.delivery.worker import run_worker  # local: ~260 ms (module docstring)

    settings = _settings()
    _require_migrated(settings)
    if _wait_for_kustomer(settings):
        run_worker(settings, threads=threads)


def _live(settings: Settings):
    """The environment, then the settings stored by the console's setup page."""
    from bridge.setup.live import LiveSettings  # local: the live settings (module docstring)

    return LiveSettings(settings.raw, _db(settings))


@contextmanager
def _live_mapping(settings: Settings):
    """(live settings, the live mapping store): the mapping the running bridge uses, with its
    ${VAR}s read from the environment and then the console's stored settings."""
    # local: the mapping pipeline and the live settings (module docstring)
    from bridge.mapping import MappingError
    from bridge.setup.live import live_settings_and_mappings

    live, mappings = live_settings_and_mappings(settings, _db(settings))
    try:
        yield live, mappings
    except MappingError as exc:
        raise click.ClickException(f"the mapping has errors; fix them first:\n{exc}") from None
    finally:
        getattr(mappings, "close", lambda: None)()


def _wait_for_kustomer(settings: Settings) -> bool:
    """A worker with nowhere to deliver would mark every event dead: it waits for a Kustomer
    key (environment or setup page) instead; events stay pending meanwhile."""
    with _live_mapping(settings) as (live, mappings):
        return wait_for_kustomer(mappings.current, live)


def _say_what_is_set_up(settings: Settings) -> None:
    if settings.admin_username and (settings.admin_password or settings.raw.get("ADMIN_PASSWORD_HASH")):
        logging.getLogger("bridge.web").info("admin console at /admin/ (setup page: /admin/setup)")
    else:
        logging.getLogger("bridge.web").warning(
            "admin console at /admin/ is disabled: set ADMIN_USERNAME and ADMIN_PASSWORD to enable it")
    if not _live(settings).webhook_secrets():
        logging.getLogger("bridge.web").warning(
            "no Okendo signing secret yet: webhooks are answered 503 'not set up yet' until you connect "
            "Okendo on the console's setup page (/admin/setup) or set OKENDO_WEBHOOK_SECRET")


def _require_migrated(settings: Settings) -> None:
    from bridge.events.migrate import current_revision, head_revision  # local: alembic (module docstring)

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(url.database).is_file():
        raise click.ClickException(
            f"no database at {url.database}: run `bridge db upgrade` to create it, or run this where the "
            "bridge's instance/ folder is, or set DATABASE_URL")
    try:
        current = current_revision(settings.database_url)
    except Exception as exc:  # noqa: BLE001 - say it plainly
        raise click.ClickException(f"cannot reach the database: {_database_problem(exc)}") from None
    if current != head_revision():
        raise click.ClickException(
            f"the database is at migration {current or 'none'}, the code needs {head_revision()}: "
            "run `bridge db upgrade` first"
        )


# -- database ------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations (idempotent; Heroku's release phase runs it)."""
    from bridge.events.migrate import upgrade  # local: alembic (module docstring)

    settings = _settings()
    upgrade(settings.database_url)
    click.echo("database is up to date")


# -- mapping -------------------------------------------------------------------------
@main.command("check-config")
@click.argument("path", required=False)
def check_config(path: str | None) -> None:
    """Validate the mapping file; errors as path:line:col: message; exit 1 on error."""
    from bridge.mapping import check_config as check  # local: the mapping pipeline (module docstring)

    settings = _settings()
    result = check(path or settings.mapping_path, env=settings.raw)
    for line in result.warnings:
        click.echo(f"warning: {line}", err=True)
    for line in result.errors:
        click.echo(line, err=True)
    if not result.ok:
        sys.exit(1)
    click.echo(f"{path or settings.mapping_path}: ok")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--mapping", "mapping_path", default=None,
              help="mapping file (default: the live mapping; $BRIDGE_MAPPING when the database has none)")
def preview(file: str, as_json: bool, mapping_path: str | None) -> None:
    """What an Okendo payload would cause, without sending anything."""
    # local: the preview and the mapping pipeline (module docstring)
    from bridge.delivery.preview import format_preview_text, preview_payload
    from bridge.mapping import MappingError, load_mapping
    from bridge.setup.preview_mapping import live_mapping_for_preview

    settings = _settings()
    try:
        mapping = (load_mapping(mapping_path, env=settings.raw) if mapping_path
                   else live_mapping_for_preview(settings, _db(settings)))
    except MappingError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        payload = json.loads(Path(file).read_bytes())
    except ValueError as exc:
        raise click.ClickException(f"{file}: not valid JSON: {exc}") from None
    result = preview_payload(payload, mapping)
    click.echo(json.dumps(result, indent=2, default=str) if as_json else format_preview_text(result))


# -- events --------------------------------------------------------------------------
@main.group()
def events() -> None:
    """Inspect stored events."""


def _event_summary(event) -> dict:
    return {
        "id": event.id, "webhook_id": event.webhook_id, "resource_type": event.resource_type,
        "topic": event.topic, "subscriber_id": event.subscriber_id, "resource_id": event.resource_id,
        "sequence_number": event.sequence_number, "status": event.status, "attempts": event.attempts,
        "last_error": event.last_error, "received_at": _iso(event.received_at),
        "next_attempt_at": _iso(event.next_attempt_at), "completed_at": _iso(event.completed_at),
    }


def _iso(value):
    return value.isoformat() if value else None


@events.command("list")
@click.option("--status", type=click.Choice(EventStatus.ALL))
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def events_list(status: str | None, limit: int, as_json: bool) -> None:
    """Stored events, newest first."""
    database = _db(_settings())
    with database.session() as session:
        events_found = store.list_events(session, status=status, limit=limit)
        rows = [_event_summary(e) for e in events_found]
        problems = [e.last_error or _first_error(e.errors) for e in events_found]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row, problem in zip(rows, problems):
        name = ".".join(part or "?" for part in (row["resource_type"], row["topic"]))
        if not (row["resource_type"] or row["topic"]):
            name = "(not an Okendo event)"
        click.echo(f"{row['id']:>6}  {row['status']:<10} {name:<28} attempts={row['attempts']}  "
                   f"{row['received_at']}  {problem or ''}")


def _first_error(errors) -> str | None:
    """The first validation error of an invalid event, as `field: message`."""
    if not errors:
        return None
    if isinstance(errors, dict):
        field, messages = next(iter(errors.items()))
        first = _first_error(messages) if isinstance(messages, (dict, list)) else messages
        return f"{field}: {first}" if field != "_body" else str(first)
    if isinstance(errors, list):
        return _first_error(errors[0]) if isinstance(errors[0], (dict, list)) else str(errors[0])
    return str(errors)


@events.command("show")
@click.argument("event_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def events_show(event_id: int, as_json: bool) -> None:
    """One event: its raw body, its actions and every delivery attempt."""
    database = _db(_settings())
    with database.session() as session:
        event = store.load(session, event_id, with_history=True)
        if event is None:
            raise click.ClickException(f"no event with id {event_id}")
        data = _event_summary(event)
        data.update(
            headers=event.headers, errors=event.errors,
            body=event.body.decode("utf-8", errors="replace"),
            actions=[{"key": a.key, "status": a.status, "result": a.result, "error": a.error,
                      "updated_at": _iso(a.updated_at)} for a in event.actions],
            attempts_log=[{"action": a.action_key, "method": a.method, "target": a.target,
                           "status_code": a.status_code, "latency_ms": a.latency_ms, "error": a.error,
                           "started_at": _iso(a.started_at)} for a in event.delivery_attempts],
        )
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for key in ("id", "webhook_id", "status", "resource_type", "topic", "resource_id", "sequence_number",
                "attempts", "last_error", "received_at", "next_attempt_at"):
        click.echo(f"{key:>16}: {data[key]}")
    if data["errors"]:
        click.echo(f"{'errors':>16}: {json.dumps(data['errors'])}")
    click.echo("actions:")
    for a in data["actions"]:
        click.echo(f"  {a['key']:<24} {a['status']:<7} {a['error'] or json.dumps(a['result'])}")
    click.echo("attempts:")
    for a in data["attempts_log"]:
        click.echo(f"  {a['started_at']}  {a['action']:<20} {a['method']} {a['target']} -> "
                   f"{a['status_code']} in {a['latency_ms'] and round(a['latency_ms'], 1)} ms {a['error'] or ''}")
    click.echo("body:")
    click.echo(data["body"])


@main.command()
@click.argument("event_ids", nargs=-1, type=int)
@click.option("--status", type=click.Choice(REPLAYABLE), help="replay every event with this status")
@click.option("--since", default=None,
              help="with --status: only events received within e.g. 2h, 1.5d, 2w, or since a date (2024-05-01)")
def replay(event_ids: tuple[int, ...], status: str | None, since: str | None) -> None:
    """Re-run events; actions already done are not redone (a delivered event stays as it is)."""
    from bridge.composition import build_runtime  # local: the composition root (module docstring)

    if not event_ids and not status:
        raise click.UsageError("give event ids, or --status (e.g. --status dead --since 2h)")
    selected = EventFilter.from_args({"status": status, "since": since or ""} if status else {})
    if selected.problems:
        raise click.BadParameter(selected.problems[0].removesuffix("; ignored"), param_hint="--since")
    settings = _settings()
    _require_migrated(settings)
    runtime = build_runtime(settings)
    ids = list(event_ids)
    if status:
        with runtime.db.session() as session:
            ids += selected.ids(session, limit=100_000)
    replayed = replay_events(runtime.db, ids, runtime.enqueue)
    with runtime.db.session() as session:
        left_alone = not_replayed(session, ids, replayed)
    click.echo(f"replaying {len(replayed)} event(s)" + (f": {', '.join(map(str, replayed))}" if replayed else ""))
    for reason, skipped in left_alone.items():
        shown = ", ".join(map(str, skipped[:20])) + (f", … ({len(skipped)} in all)" if len(skipped) > 20 else "")
        click.echo(f"not replayed, {reason}: {shown}", err=True)
    if UNKNOWN_MEANS in left_alone:
        sys.exit(1)


# -- helpers for demos and tests -------------------------------------------------------
@main.command("send-sample")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--url", required=True, help="the bridge's webhook URL, e.g. http://127.0.0.1:8000/webhooks/okendo")
@click.option("--secret", default=None, help="whsec_... (default: the first of $OKENDO_WEBHOOK_SECRET)")
@click.option("--webhook-id", default=None, help="delivery id (default: a new one)")
@click.option("--header-style", type=click.Choice(["webhook", "svix"]), default="webhook")
def send_sample(file: str, url: str, secret: str | None, webhook_id: str | None, header_style: str) -> None:
    """Sign a payload file the way Okendo does and POST it."""
    import requests  # local: ~50 ms (module docstring); only this command sends HTTP itself

    secret = secret or next(iter(_settings().webhook_secrets), None) or _dev_secret_if_any()
    if not secret:
        raise click.UsageError("no secret: pass --secret or set OKENDO_WEBHOOK_SECRET")
    body = Path(file).read_bytes()
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time())
    # Signed with the Standard Webhooks reference library, so the bridge's own verifier
    # is exercised against an independent implementation.
    signature = Webhook(secret).sign(webhook_id, datetime.fromtimestamp(timestamp, timezone.utc),
                                     body.decode("utf-8"))
    prefix = "webhook" if header_style == "webhook" else "svix"
    headers = {f"{prefix}-id": webhook_id, f"{prefix}-timestamp": str(timestamp),
               f"{prefix}-signature": signature, "Content-Type": "application/json"}
    try:
        response = requests.post(url, data=body, headers=headers, timeout=15)
    except requests.ConnectionError as exc:
        reason = "connection refused" if "refused" in str(exc).lower() else type(exc).__name__
        raise click.ClickException(f"cannot reach {url}: {reason}. Is the bridge running there "
                                   "(`make run` or `bridge web`)?") from None
    except requests.Timeout:
        raise click.ClickException(f"{url} did not answer within 15 s") from None
    click.echo(f"{response.status_code} {response.text.strip()}")
    if response.status_code >= 300:
        sys.exit(1)


def _dev_secret_if_any() -> str | None:
    """The secret `bridge run` made for a newcomer's demo (instance/dev-secret), if there is one."""
    path = INSTANCE_DIR / "dev-secret"
    return path.read_text().strip() if path.is_file() else None


@main.command("kustomer-emulator")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8099, show_default=True)
@click.option("--rate-limit", type=int, default=None, help="org requests per minute (0 = unlimited)")
@click.option("--hook-limit", type=int, default=None, help="hook requests per minute (0 = unlimited)")
@click.option("--latency-ms", type=float, default=0.0)
@click.option("--error-rate", type=float, default=0.0)
def kustomer_emulator(host, port, rate_limit, hook_limit, latency_ms, error_rate) -> None:
    """A local stand-in for Kustomer's API, for demos and the project's tests."""
    from bridge.devtools.emulator.app import serve  # local: the emulator (module docstring)

    options = dict(latency_ms=latency_ms, error_rate=error_rate)
    if rate_limit is not None:
        options["rate_limit_per_minute"] = rate_limit
    if hook_limit is not None:
        options["hook_limit_per_minute"] = hook_limit
    serve(host=host, port=port, **options)


@main.group()
def kustomer() -> None:
    """Kustomer settings."""


@kustomer.command("check")
def kustomer_check() -> None:
    """Prove the Kustomer key, region, roles and hook URLs work, without creating anything."""
    from bridge.setup.kustomer_connect import check_all, passed  # local: the Kustomer check (module docstring)

    with _live_mapping(_settings()) as (_live_settings, mappings):
        results = check_all(mappings.current())
    for label, findings in results:
        click.echo(f"Kustomer org for {label}:")
        for finding in findings:
            click.echo(f"  {finding}")
    sys.exit(0 if passed(results) else 1)


@kustomer.command("setup-timeline")
def kustomer_setup_timeline() -> None:
    """Create (if missing) the Kustomer klasses for review and survey cards on the timeline."""
    from bridge.timeline.setup import setup_for_target  # local: the timeline setup (module docstring)

    with _live_mapping(_settings()) as (_live_settings, mappings):
        orgs = mappings.current().kustomer_orgs()
    failed = False
    for store_id, target in orgs:
        click.echo(f"Kustomer org for {'store ' + store_id if store_id else 'all stores'}:")
        report = setup_for_target(target)
        for line in report.lines:
            click.echo("  " + line.replace("\n", "\n  "))
        failed = failed or not report.ok
    sys.exit(1 if failed else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
