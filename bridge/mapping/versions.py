"""The live mapping kept in the database as versions: seed, publish, rollback, draft, audit.

The newest row of ``mapping_versions`` is the live mapping. Publishing adds a row;
nothing ever edits or deletes one, so "who changed what, when and why" is the table.

Failure policy:

* A text is validated with the same loader the running processes use, *before* it is
  written: an invalid version is never stored, so it can never go live. The refusal is
  raised as :class:`~bridge.mapping.errors.MappingError` (every problem with line and
  column) and recorded in the audit list (action ``refused``).
* An empty change note is refused (:class:`PublishError`): the history is for the next
  admin, and "what changed" without "why" does not help them.
* Two publishes at the same moment both compute "live + 1"; the primary key lets one
  win and the other retries on top of it (never two versions with the same number).
* Publishing the text that is already live adds nothing (``changed`` is False), so a
  deploy script may publish the file from git on every release.
* On PostgreSQL each publish sends ``NOTIFY bridge_mapping`` in its own transaction, so
  every listening process hears of it when (and only when) it is committed.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from typing import Mapping as TypingMapping

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from bridge.events.models import utcnow
from bridge.mapping.errors import MappingError
from bridge.mapping.loader import load_mapping_text, read_mapping_file
from bridge.mapping.model import Mapping
from bridge.mapping.tables import MappingAudit, MappingDraft, MappingVersion

NOTIFY_CHANNEL = "bridge_mapping"
DRAFT = "default"
PUBLISH_RETRIES = 5


class PublishError(ValueError):
    """A publish or rollback that cannot be done for a reason other than validation."""


@dataclass(frozen=True)
class Published:
    version: MappingVersion
    mapping: Mapping  # as loaded, warnings included
    changed: bool  # False: the text was already live, nothing was added


# ------------------------------------------------------------------------------ reading

def live_version_id(session) -> int | None:
    return session.execute(select(func.max(MappingVersion.id))).scalar()


def live(session) -> MappingVersion | None:
    number = live_version_id(session)
    return session.get(MappingVersion, number) if number is not None else None


def get(session, number: int) -> MappingVersion | None:
    return session.get(MappingVersion, number)


def history(session, limit: int = 200) -> list[MappingVersion]:
    return list(session.execute(select(MappingVersion).order_by(MappingVersion.id.desc()).limit(limit))
                .scalars())


def audit_list(session, limit: int = 200, actions: tuple[str, ...] | None = None) -> list[MappingAudit]:
    query = select(MappingAudit).order_by(MappingAudit.id.desc()).limit(limit)
    if actions:
        query = query.where(MappingAudit.action.in_(actions))
    return list(session.execute(query).scalars())


def record(session, actor: str, action: str, version_id: int | None = None, message: str = "",
           problems: list[str] | None = None) -> None:
    """Add one audit row in the caller's transaction."""
    session.add(MappingAudit(at=utcnow(), actor=actor[:255], action=action, version_id=version_id,
                             message=message, problems=problems))


def record_now(db, actor: str, action: str, version_id: int | None = None, message: str = "",
               problems: list[str] | None = None) -> None:
    """Add one audit row in a transaction of its own (refusals, load failures)."""
    with db.session() as session:
        record(session, actor, action, version_id, message, problems)


# ------------------------------------------------------------------------------ writing

def validate(text_: str, source: str, env: TypingMapping[str, str] | None):
    """The loaded Mapping, or :class:`MappingError` with every problem."""
    return load_mapping_text(text_, source, os.environ if env is None else env)


def seed_from_file(db, path: str, env: TypingMapping[str, str] | None) -> MappingVersion:
    """Version 1 from the mapping file when the table is empty; the live version otherwise.

    Raises :class:`MappingError` when the file is missing or invalid (nothing is stored).
    Two processes starting together both try id 1; the loser reads the winner's row.
    """
    with db.session() as session:
        current = live(session)
    if current is not None:
        return current
    source_text = read_mapping_file(path)
    try:
        validate(source_text, str(path), env)
    except MappingError as error:
        record_now(db, "system", "load_failed", None, f"the seed file {path} is invalid; nothing is live",
                   [str(problem) for problem in error.problems])
        raise
    try:
        with db.session() as session:
            version = MappingVersion(id=1, yaml_text=source_text, author="system", created_at=utcnow(),
                                     note=f"first start: copied from {path}", replaces_id=None, kind="seed")
            session.add(version)
            session.flush()
            record(session, "system", "seed", 1, version.note)
            _notify(session, 1)
        return version
    except IntegrityError:
        with db.session() as session:
            return live(session)


def publish(db, text_: str, *, author: str, note: str, env: TypingMapping[str, str] | None,
            source: str = "draft", kind: str = "publish", rolled_back_to: int | None = None) -> Published:
    """Validate ``text_`` and make it the live version (see the module's failure policy)."""
    note = (note or "").strip()
    if not note:
        raise PublishError("a change note is required: say what changed and why")
    try:
        mapping = validate(text_, source, env)
    except MappingError as error:
        record_now(db, author, "refused", None, f"{kind} refused: {note}",
                   [str(problem) for problem in error.problems])
        raise
    for _ in range(PUBLISH_RETRIES):
        try:
            with db.session() as session:
                current = live(session)
                if current is not None and current.yaml_text == text_:
                    return Published(current, mapping, changed=False)
                number = (current.id if current else 0) + 1
                version = MappingVersion(id=number, yaml_text=text_, author=author[:255], created_at=utcnow(),
                                         note=note, replaces_id=current.id if current else None, kind=kind,
                                         rolled_back_to=rolled_back_to)
                session.add(version)
                session.flush()
                record(session, author, kind, number, note)
                _notify(session, number)
            return Published(version, mapping, changed=True)
        except IntegrityError:
            continue  # someone published the same number first: go again on top of theirs
    raise PublishError("the mapping is being published by someone else right now; try again")


def rollback(db, number: int, *, author: str, note: str | None, env: TypingMapping[str, str] | None
             ) -> Published:
    """Republish version ``number``'s text as a new version (validated again: the code or
    the environment may have changed since it was live)."""
    with db.session() as session:
        old = get(session, number)
    if old is None:
        raise PublishError(f"there is no version {number}")
    return publish(db, old.yaml_text, author=author, note=note or f"rollback to version {number}",
                   env=env, source=f"version {number}", kind="rollback", rolled_back_to=number)


def _notify(session, number: int) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, :payload)"),
                        {"channel": NOTIFY_CHANNEL, "payload": str(number)})


# ------------------------------------------------------------------------------ draft

def draft(session) -> MappingDraft | None:
    return session.get(MappingDraft, DRAFT)


def save_draft(db, text_: str, author: str, base_version: int | None) -> None:
    """Store the draft (valid or not: a half-finished edit is worth keeping)."""
    with db.session() as session:
        row = draft(session)
        if row is None:
            session.add(MappingDraft(name=DRAFT, yaml_text=text_, author=author[:255], updated_at=utcnow(),
                                     base_version=base_version))
        else:
            row.yaml_text, row.author, row.updated_at = text_, author[:255], utcnow()
            row.base_version = base_version


def discard_draft(db) -> None:
    with db.session() as session:
        row = draft(session)
        if row is not None:
            session.delete(row)


# ------------------------------------------------------------------------------ diff

def diff_lines(before: str, after: str, before_label: str, after_label: str) -> list[str]:
    """A unified diff, one string per line, without trailing newlines."""
    return [line.rstrip("\n") for line in difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=before_label, tofile=after_label, n=3)]
