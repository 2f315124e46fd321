"""`bridge mapping ...`: the live mapping's versions for scripts and git workflows.

show | export | check | diff | publish FILE --note N | history | rollback VERSION | impact FILE | audit

Failure policy: an invalid file is never published: every problem is printed as
``path:line:col: message`` on stderr and the command exits 1 (``check`` likewise). With
``BRIDGE_MAPPING_SOURCE=file`` the file is the live mapping, so publish and rollback
refuse (exit 1) and say to edit the file instead.

Every command here reads the live mapping's versions, so the mapping's modules are imported
at the top: `bridge.cli` imports this module only when `bridge mapping` is named (or for
--help), which is what keeps the mapping pipeline out of the other commands. `bridge.cli`'s
helpers and the live settings (`bridge.setup`) sit above `mapping/` in the layers
(docs/architecture.md): this entry point imports them inside `_context`, when a command runs.
"""
from __future__ import annotations

import getpass
import json
import sys

import click

from bridge.mapping import MappingError, versions
from bridge.mapping.impact import impact_preview
from bridge.mapping.loader import read_mapping_file


def _context():
    """(settings, database, env): env resolves ${VAR}s like the running processes do, from the
    environment and then the settings stored by the console's setup page."""
    # local: up the layers (module docstring); the command line's entry point is bridge.cli
    from bridge.cli import _db, _settings
    from bridge.setup.live import LiveSettings

    settings = _settings()
    db = _db(settings)
    return settings, db, LiveSettings(settings.raw, db)


def _author(author: str | None) -> str:
    if author:
        return author
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


def _live(settings, db):
    """The live version row, seeding version 1 from BRIDGE_MAPPING on an empty table."""
    try:
        return versions.seed_from_file(db, settings.mapping_path, settings.raw)
    except MappingError as error:
        _fail(error.problems)


def _live_text(settings, db) -> tuple[str, str]:
    """The live mapping's text and a label for it, in either mode."""
    if settings.mapping_source == "file":
        return _read(settings.mapping_path), settings.mapping_path
    row = _live(settings, db)
    return row.yaml_text, f"version {row.id}"


def _fail(problems) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)
    sys.exit(1)


def _refuse_in_file_mode(settings) -> None:
    if settings.mapping_source == "file":
        raise click.ClickException(
            f"BRIDGE_MAPPING_SOURCE=file: the live mapping is {settings.mapping_path}; edit that file"
            " (and commit it) instead, or set BRIDGE_MAPPING_SOURCE=database")


def _read(file: str) -> str:
    try:
        return read_mapping_file(file)
    except MappingError as error:
        _fail(error.problems)


def _warn(mapping) -> None:
    for warning in mapping.warnings:
        click.echo(f"warning: {warning}", err=True)


@click.group("mapping")
def mapping() -> None:
    """The live mapping, kept in the database as versions."""


@mapping.command("show")
def show() -> None:
    """Which version is live: number, author, time, note, routes."""
    settings, db, env = _context()
    if settings.mapping_source == "file":
        click.echo(f"file mode: the live mapping is {settings.mapping_path} (BRIDGE_MAPPING_SOURCE=file)")
        return
    row = _live(settings, db)
    mapping = versions.validate(row.yaml_text, f"version {row.id}", env)
    click.echo(f"version {row.id} (live), published {row.created_at:%Y-%m-%d %H:%M} UTC by {row.author}")
    click.echo(f"note: {row.note}")
    for route in mapping.routes:
        click.echo(f"route {route.name}: {', '.join(route.events)} -> {route.body if route.is_hook else 'timeline cards'}")
    click.echo("tickets: " + ("on" if mapping.tickets.enabled else "off"))
    _warn(mapping)


@mapping.command("export")
@click.option("--version", "number", type=int, default=None, help="an earlier version (default: live)")
def export(number: int | None) -> None:
    """Print the live mapping's YAML (with its comments), e.g. to commit it to git."""
    settings, db, env = _context()
    if settings.mapping_source == "file":
        click.echo(_read(settings.mapping_path), nl=False)
        return
    row = _live(settings, db)
    if number is not None:
        with db.session() as session:
            row = versions.get(session, number)
        if row is None:
            raise click.ClickException(f"there is no version {number}")
    click.echo(row.yaml_text, nl=False)


@mapping.command("check")
@click.argument("file", required=False)
def check(file: str | None) -> None:
    """Validate FILE (default: the live version): path:line:col for each problem, exit 1."""
    settings, db, env = _context()
    if file is None and settings.mapping_source == "file":
        file = settings.mapping_path
    if file is None:
        row = _live(settings, db)
        text, source = row.yaml_text, f"version {row.id}"
    else:
        text, source = _read(file), file
    try:
        mapping = versions.validate(text, source, env)
    except MappingError as error:
        _fail(error.problems)
    _warn(mapping)
    click.echo(f"{source}: ok")


@mapping.command("diff")
@click.argument("file")
def diff(file: str) -> None:
    """What publishing FILE would change, as a unified diff against the live version."""
    settings, db, env = _context()
    live_text, label = _live_text(settings, db)
    lines = versions.diff_lines(live_text, _read(file), f"{label} (live)", file)
    click.echo("\n".join(lines) if lines else f"{file} is the same as {label} (live)")


@mapping.command("publish")
@click.argument("file")
@click.option("--note", required=True, help="what changed and why (shown in the history)")
@click.option("--author", default=None, help="who publishes (default cli:<user>)")
def publish(file: str, note: str, author: str | None) -> None:
    """Validate FILE and make it the live version; an invalid file is refused (exit 1)."""
    settings, db, env = _context()
    _refuse_in_file_mode(settings)
    _live(settings, db)
    try:
        result = versions.publish(db, _read(file), author=_author(author), note=note, env=env,
                                  source=file)
    except MappingError as error:
        click.echo(f"refused: {file} is not valid; the live version is unchanged", err=True)
        _fail(error.problems)
    except versions.PublishError as error:
        raise click.ClickException(str(error)) from None
    _warn(result.mapping)
    if result.changed:
        click.echo(f"published version {result.version.id} (replaces version {result.version.replaces_id});"
                   " every process uses it within seconds")
    else:
        click.echo(f"{file} is already live as version {result.version.id}; nothing published")


@mapping.command("history")
@click.option("--limit", type=int, default=50)
@click.option("--json", "as_json", is_flag=True)
def history(limit: int, as_json: bool) -> None:
    """Every version, newest first: number, time, author, note."""
    settings, db, env = _context()
    _live(settings, db)
    with db.session() as session:
        rows = versions.history(session, limit)
    items = [{"version": row.id, "created_at": row.created_at.isoformat(), "author": row.author,
              "kind": row.kind, "note": row.note, "replaces": row.replaces_id,
              "rolled_back_to": row.rolled_back_to} for row in rows]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for index, item in enumerate(items):
        live = " (live)" if index == 0 else ""
        kind = f" [rollback to {item['rolled_back_to']}]" if item["kind"] == "rollback" else ""
        click.echo(f"{item['version']:>4}{live}  {item['created_at'][:16]}  {item['author']}{kind}: {item['note']}")


@mapping.command("rollback")
@click.argument("version", type=int)
@click.option("--note", default=None, help="why (default: 'rollback to version N')")
@click.option("--author", default=None)
def rollback(version: int, note: str | None, author: str | None) -> None:
    """Publish an earlier VERSION's text again, as a new version."""
    settings, db, env = _context()
    _refuse_in_file_mode(settings)
    _live(settings, db)
    try:
        result = versions.rollback(db, version, author=_author(author), note=note, env=env)
    except MappingError as error:
        click.echo(f"refused: version {version} does not load any more; the live version is unchanged", err=True)
        _fail(error.problems)
    except versions.PublishError as error:
        raise click.ClickException(str(error)) from None
    if result.changed:
        click.echo(f"published version {result.version.id}: the text of version {version}")
    else:
        click.echo(f"version {version}'s text is already live (version {result.version.id})")


@mapping.command("impact")
@click.argument("file")
@click.option("--events", "limit", type=int, default=200, help="how many recent events (max 1000)")
@click.option("--json", "as_json", is_flag=True)
def impact(file: str, limit: int, as_json: bool) -> None:
    """What FILE would have done to the last stored events, compared with the live version.
    Sends nothing."""
    settings, db, env = _context()
    live_text, label = _live_text(settings, db)
    try:
        live = versions.validate(live_text, label, env)
    except MappingError as error:
        _fail(error.problems)
    try:
        draft = versions.validate(_read(file), file, env)
    except MappingError as error:
        _fail(error.problems)
    result = impact_preview(db, live, draft, limit)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, default=str))
        return
    click.echo(result.headline())
    for item in result.events:
        click.echo(f"event {item.event_id} {item.name}:")
        for change in item.changes:
            click.echo(f"  {change.what}: {change.before} -> {change.after}")


@mapping.command("audit")
@click.option("--limit", type=int, default=50)
def audit(limit: int) -> None:
    """Publishes, rollbacks, refused publishes and load failures, newest first."""
    _, db, _env = _context()
    with db.session() as session:
        rows = versions.audit_list(session, limit)
    for row in rows:
        version = f" v{row.version_id}" if row.version_id else ""
        click.echo(f"{row.at:%Y-%m-%d %H:%M:%S}  {row.action}{version}  {row.actor}: {row.message}")
        for problem in row.problems or []:
            click.echo(f"    {problem}")
