"""Hot reload of the mapping file in a running process.

An admin edits ``config/mapping.yaml`` while the bridge runs; the next events use the
new file without a restart.

Failure policy:

* The first load (on the first :meth:`MappingStore.current` call, so that building a
  process touches nothing until it is needed) raises :class:`MappingError`: a process
  with no usable mapping cannot plan anything, and a missing file says so clearly.
* After that, a file that turns bad never replaces the good one: the problems are
  logged once, each as ``file:line:col: message``, kept in :attr:`last_error`, and the
  last good mapping keeps serving until the file is fixed. A file that disappears is
  handled the same way.
* The file is stat'ed at most every ``check_interval`` seconds, so the hot path costs
  a clock read. A change is noticed by modification time, size or inode (editors that
  save by renaming a new file into place change the inode).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable, Mapping as TypingMapping

from bridge.mapping.errors import MappingError, Problem
from bridge.mapping.loader import load_mapping_text, read_mapping_file
from bridge.mapping.model import Mapping

log = logging.getLogger(__name__)


class MappingStore:
    """The current mapping of one file, reloaded when the file changes."""

    mode = "file"  # BRIDGE_MAPPING_SOURCE=file; the database store says "database"

    def __init__(self, path: str | os.PathLike, env: TypingMapping[str, str] | None = None,
                 check_interval: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self.path = str(path)
        self._env = env
        self.check_interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._mapping: Mapping | None = None
        self._signature: tuple | None = None  # of the file last read, good or bad
        self._checked_at: float | None = None
        self.last_error: list[Problem] | None = None

    def current(self) -> Mapping:
        """The mapping to use now. Raises :class:`MappingError` only when no good
        mapping was ever loaded."""
        mapping = self._mapping
        checked_at = self._checked_at
        if mapping is not None and checked_at is not None \
                and self._clock() - checked_at < self.check_interval:
            return mapping
        with self._lock:
            if self._mapping is None or self._clock() - self._checked_at >= self.check_interval:
                self._refresh()
            return self._mapping

    def reload(self) -> Mapping:
        """Re-read the file now, whatever its stat says (e.g. after a signal)."""
        with self._lock:
            self._signature = None
            self._refresh()
            return self._mapping

    # ------------------------------------------------------------------ internals

    def _refresh(self) -> None:
        self._checked_at = self._clock()
        signature = self._stat()
        if self._mapping is not None and signature == self._signature:
            return
        self._signature = signature
        try:
            if signature is None:
                read_mapping_file(self.path)  # raises the clear "not found" problem
            mapping = load_mapping_text(read_mapping_file(self.path), self.path, self._env)
        except MappingError as error:
            self.last_error = error.problems
            if self._mapping is None:
                raise
            log.error("mapping %s is invalid; still using the last good one:\n%s",
                      self.path, "\n".join(str(problem) for problem in error.problems))
            return
        replaced = self._mapping is not None
        self._mapping = mapping
        self.last_error = None
        for warning in mapping.warnings:
            log.warning("mapping: %s", warning)
        if replaced:
            log.info("mapping %s reloaded (%d routes)", self.path, len(mapping.routes))

    def _stat(self) -> tuple | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)
