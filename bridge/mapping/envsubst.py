"""``${NAME}`` references in mapping-file strings, filled from the environment.

Grammar (in any string value of the file, never in keys):

* ``${NAME}``: the variable's value. Unset or empty counts as *missing*.
* ``${NAME:-default}``: the value, or ``default`` when unset or empty (shell semantics).
* ``$${`` : a literal ``${`` (e.g. a template showing a price, ``$${{ amount }}``).

Failure policy: a missing variable is not an error here. Hook URLs and API keys are
commonly unset on a developer's machine, and the bridge must still start, receive and
store events. The string becomes ``None`` and the missing names are reported, so the
caller can warn at load time and mark the affected actions dead with the variable's
name at delivery time. A malformed reference (``${}``, ``${NOT A NAME}``) *is* an error:
it is a typo in the file, raised as :class:`EnvReferenceError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

# `$${` first so an escaped reference is never read as a real one.
_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_REFERENCE = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?", re.DOTALL)


class EnvReferenceError(ValueError):
    """A ``${...}`` that is not a valid reference."""


@dataclass(frozen=True)
class MissingEnv:
    """Stands in for a string whose variables are unset, until the schema decides
    whether that value may be absent (a hook URL, an API key) or not (anything else)."""

    names: tuple[str, ...]

    def describe(self) -> str:
        return ", ".join("${" + name + "}" for name in self.names) + (
            " is not set" if len(self.names) == 1 else " are not set")


@dataclass(frozen=True)
class Substituted:
    """The result of :func:`substitute`: ``value`` is None when ``missing`` is not empty."""

    value: str | None
    missing: tuple[str, ...] = ()


def has_reference(text: str) -> bool:
    """Whether ``text`` contains anything :func:`substitute` would change."""
    return "${" in text


def references(text: str) -> list[str]:
    """The variable names ``text`` refers to (escapes and malformed references left out)."""
    names = []
    for match in _TOKEN.finditer(text):
        inner = match.group(1)
        reference = _REFERENCE.fullmatch(inner) if inner is not None else None
        if reference is not None and reference.group("name") not in names:
            names.append(reference.group("name"))
    return names


def substitute(text: str, env: Mapping[str, str]) -> Substituted:
    """Replace every reference in ``text`` (see the module docstring for the rules)."""
    if "${" not in text:
        return Substituted(text)
    missing: list[str] = []

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        inner = match.group(1)
        if inner is None:
            raise EnvReferenceError(
                f"'${{' without a closing '}}' in {text!r}; write $${{ for a literal ${{"
            )
        reference = _REFERENCE.fullmatch(inner)
        if reference is None:
            raise EnvReferenceError(
                f"{token!r} is not a ${{NAME}} or ${{NAME:-default}} reference;"
                " write $${ for a literal ${"
            )
        name, default = reference.group("name"), reference.group("default")
        value = env.get(name)
        if value:
            return value
        if default is not None:
            return default
        if name not in missing:
            missing.append(name)
        return ""

    result = _TOKEN.sub(replace, text)
    if missing:
        return Substituted(None, tuple(missing))
    return Substituted(result)
