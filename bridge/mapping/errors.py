"""Problems found in a mapping file, and the exception that carries them.

Failure policy: loading a mapping never stops at the first problem. Every problem the
loader can find is collected as a :class:`Problem` pointing at a file, line and column,
and all of them are raised together in one :class:`MappingError`, so an admin fixes the
file in one pass instead of one error per restart.
"""

from __future__ import annotations

from dataclasses import dataclass


Path_ = tuple  # a location in the document: ("routes", 0, "body")


def format_path(path: Path_) -> str:
    """``("routes", 0, "body")`` -> ``routes[0].body``; odd keys are quoted."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        elif not isinstance(step, str):  # a key YAML read as null, a float, a date...: reported, not crashed on
            text += f"[{step!r}]"
        elif step.replace("_", "").replace("-", "").isalnum():
            text += f".{step}" if text else step
        else:
            text += f"[{step!r}]"
    return text or "(top level)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in a mapping file.

    ``line`` and ``col`` are 1-based, like an editor shows them; 0 means "no position"
    (e.g. the file could not be read at all). ``message`` starts with the location in
    the file's structure, e.g. ``routes[0].body: ...``.
    """

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class MappingError(Exception):
    """The mapping file cannot be used; ``problems`` says everything that is wrong."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))
