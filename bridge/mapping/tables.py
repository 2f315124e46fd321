"""The tables that keep the live mapping in the database, as versions.

* ``mapping_versions``: every mapping that ever went live, newest = live. A version is
  never changed or deleted; a rollback republishes an older text as a new version, so
  the history reads as what really happened.
* ``mapping_drafts``: the console's draft (one shared draft, keyed ``default``): saved
  text that is not live.
* ``mapping_audit``: publishes, rollbacks, refused publishes and load failures, newest
  first in the console; the alerts code reads ``load_failed`` and ``refused`` rows.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bridge.events.models import Base, BigId, UTCDateTime, utcnow


class MappingVersion(Base):
    __tablename__ = "mapping_versions"

    # The version number an admin sees ("v3"); assigned explicitly (max + 1) so that two
    # publishes at once collide on the primary key instead of both going live.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    yaml_text: Mapped[str] = mapped_column(Text, nullable=False)
    author: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    # The version that was live when this one was published (None for the first).
    replaces_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("mapping_versions.id"))
    # seed (first start), publish, rollback (then rolled_back_to says which text).
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    rolled_back_to: Mapped[int | None] = mapped_column(Integer)


class MappingDraft(Base):
    __tablename__ = "mapping_drafts"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    yaml_text: Mapped[str] = mapped_column(Text, nullable=False)
    author: Mapped[str] = mapped_column(String(255), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # The live version the draft started from, to say "live changed since" on publish.
    base_version: Mapped[int | None] = mapped_column(Integer)


class MappingAudit(Base):
    __tablename__ = "mapping_audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    # seed, publish, rollback, refused (an invalid publish), load_failed (a process could
    # not load the live version and kept its last good one).
    action: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    version_id: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text, nullable=False, default="")
    problems: Mapped[list | None] = mapped_column(JSON)
