"""Reading a mapping file: YAML with positions, ``${ENV}`` substitution, and the
pipeline that turns the text into a checked :class:`~bridge.mapping.model.Mapping`.

The pipeline, each step reporting :class:`~bridge.mapping.errors.Problem` s with a
``file:line:col``:

1. parse the YAML with ruamel's round-trip loader, which remembers where every key and
   value sits; syntax errors and duplicate keys point at ruamel's ``problem_mark``;
2. convert it to plain Python data, substituting ``${NAME}`` references on the way
   (:mod:`bridge.mapping.envsubst`); unset variables become warnings, not errors;
3. validate the data with the marshmallow schemas (:mod:`bridge.mapping.schema`) and map
   every message in marshmallow's nested error dict back to the node it is about;
4. build the model and try it against the bundled sample events
   (:mod:`bridge.mapping.checks`): filters evaluate, templates render, renames find
   their keys.

Failure policy: all problems of a step are collected and raised together as one
:class:`MappingError`; a later step only runs when the earlier ones found nothing (a
sample check on a half-valid file would only add noise). Nothing here raises anything
else for bad input: an unreadable file, bad UTF-8, bad YAML and bad content all become
``MappingError``.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping as TypingMapping

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from bridge.mapping import env_policy
from bridge.mapping.checks import check_against_samples
from bridge.mapping.envsubst import EnvReferenceError, MissingEnv, references, substitute
from bridge.mapping.errors import MappingError, Path_, Problem, format_path
from bridge.mapping.limits import CheckTimeout, time_limit
from bridge.mapping.model import build_mapping
from bridge.mapping.schema import validate_document

@dataclass
class Document:
    """A parsed mapping file: plain data plus where each part of it came from.

    Positions are ruamel's, 0-based; :meth:`locate` turns them into 1-based ones.
    """

    source: str
    text: str
    data: Any = None
    key_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    value_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    literal_blocks: set[Path_] = field(default_factory=set)  # `|` scalars (templates)
    missing_env: dict[Path_, tuple[str, ...]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    bad_paths: set[Path_] = field(default_factory=set)  # where `problems` point

    def add_problem(self, path: Path_, message: str, *, at_key: bool = False) -> None:
        self.bad_paths.add(tuple(path))
        self.problems.append(self.problem(path, message, at_key=at_key))

    def locate(self, path: Path_, *, at_key: bool = False, template_line: int | None = None
               ) -> tuple[int, int]:
        """1-based (line, col) of the node at ``path``.

        A path that does not exist in the file (a required key that is missing) falls
        back to its nearest existing parent. ``at_key`` points at the key rather than its
        value (unknown or misspelt keys); ``template_line`` points inside a template,
        when the template is a literal block or a one-line scalar.
        """
        path = tuple(path)
        while path and path not in self.value_positions:
            path = path[:-1]
        if at_key and path in self.key_positions:
            line, col = self.key_positions[path]
            return line + 1, col + 1
        line, col = self.value_positions.get(path, (0, 0))
        if template_line and template_line >= 1 and path in self.literal_blocks:
            # The `|` sits on the value's line; the template's line 1 is the next one.
            # (Other scalar styles fold lines, so their template lines do not map to the
            # file's: those point at the value's start.)
            return self._line_start(line + template_line)
        return line + 1, col + 1

    def problem(self, path: Path_, message: str, *, at_key: bool = False,
                template_line: int | None = None) -> Problem:
        line, col = self.locate(path, at_key=at_key, template_line=template_line)
        return Problem(self.source, line, col, f"{format_path(path)}: {message}")

    def _line_start(self, line0: int) -> tuple[int, int]:
        lines = self.text.splitlines()
        if 0 <= line0 < len(lines):
            content = lines[line0]
            return line0 + 1, len(content) - len(content.lstrip()) + 1
        return line0 + 1, 1


def parse_document(text: str, source: str = "<string>",
                   env: TypingMapping[str, str] | None = None) -> Document:
    """Parse ``text`` into a :class:`Document`; raises :class:`MappingError` for YAML
    syntax errors. Malformed ``${...}`` references and unsupported values are collected
    in ``document.problems`` (their value becomes None) so that the schema can still
    report everything else in the same run."""
    env = os.environ if env is None else env
    document = Document(source=source, text=text)
    yaml = YAML(typ="rt")  # round-trip: keeps line/column of every node
    try:
        root = yaml.load(text)
    except MarkedYAMLError as error:
        raise MappingError([_syntax_problem(source, error)]) from None
    except YAMLError as error:  # no position known
        raise MappingError([Problem(source, 0, 0, f"YAML error: {error}")]) from None
    except Exception as error:  # noqa: BLE001 - ruamel raises others for some bad documents
        # e.g. TypeError "unhashable type" for a `? ` key that is itself a list or mapping.
        hint = "a key is itself a list or mapping; keys must be text" if "unhashable" in str(error) \
            else f"{type(error).__name__}: {error}"
        raise MappingError([Problem(source, 0, 0, f"YAML error: the file cannot be read ({hint})")]) from None

    if root is None:
        raise MappingError([Problem(source, 1, 1, "the file is empty; start it with `version: 1`")])
    if not isinstance(root, CommentedMap):
        raise MappingError([Problem(source, 1, 1, "the top level must be a mapping of keys"
                                    " (version, routes, tickets, stores)")])
    document.value_positions[()] = (0, 0)
    document.data = _plain(root, (), document, env)
    return document


def _syntax_problem(source: str, error: MarkedYAMLError) -> Problem:
    mark = error.problem_mark or error.context_mark
    message = str(error.problem or error.context or "invalid YAML").strip()
    if error.context and error.problem and error.context_mark is not None:
        message += (f" ({error.context} started at line {error.context_mark.line + 1},"
                    f" column {error.context_mark.column + 1})")
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    return Problem(source, line, col, f"YAML syntax error: {message}")


def _plain(node: Any, path: Path_, document: Document, env: TypingMapping[str, str]) -> Any:
    """ruamel's node tree as plain dicts/lists/scalars, recording positions on the way.

    Plain types matter: the model's values end up in JSON bodies and frozen dataclasses,
    and ruamel's subclasses (ScalarFloat, CommentedMap...) would leak into both.
    """
    if isinstance(node, CommentedMap):
        result: dict[str, Any] = {}
        for key in node:  # includes keys merged in with `<<: *anchor`
            child = path + (key,)
            _record(document.key_positions, child, node.lc, "key", key)
            _record(document.value_positions, child, node.lc, "value", key)
            if not isinstance(key, str):
                document.add_problem(child, f"keys must be text; quote {key!r}", at_key=True)
                continue
            result[key] = _plain(node[key], child, document, env)
        return result
    if isinstance(node, CommentedSeq):
        items = []
        for index, item in enumerate(node):
            child = path + (index,)
            _record(document.value_positions, child, node.lc, "item", index)
            items.append(_plain(item, child, document, env))
        return items
    if isinstance(node, str):
        if isinstance(node, LiteralScalarString):
            document.literal_blocks.add(path)
        names = references(str(node))
        refused = env_policy.refusal(path, names) if names else None
        if refused:
            document.add_problem(path, refused)
            return None
        try:
            substituted = substitute(str(node), env)
        except EnvReferenceError as error:
            document.add_problem(path, str(error))
            return None
        if substituted.missing:
            document.missing_env[path] = substituted.missing
            return MissingEnv(substituted.missing)
        return substituted.value
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, (_dt.date, _dt.datetime)):
        # YAML reads an unquoted 2026-01-31 as a date; JSON bodies need text.
        return node.isoformat()
    document.add_problem(path, f"unsupported YAML value of type {type(node).__name__}"
                               " (custom !tags and sets are not allowed)")
    return None


def _record(table: dict, path: Path_, lc: Any, kind: str, key: Any) -> None:
    try:
        table[path] = tuple(getattr(lc, kind)(key))
    except (KeyError, TypeError, IndexError, AttributeError):
        # Keys merged from an anchor have no position of their own: leave them out and
        # let `locate` fall back to the parent's position.
        pass


# ------------------------------------------------------------------- the whole pipeline


def load_mapping_text(text: str, source: str = "<string>",
                      env: TypingMapping[str, str] | None = None):
    """Load and check a mapping from its text; raises :class:`MappingError`."""
    env = os.environ if env is None else env
    try:
        with time_limit():
            return _load_checked(text, source, env, validate_document, build_mapping, check_against_samples)
    except CheckTimeout as error:
        raise MappingError([Problem(source, 0, 0, f"{error}; simplify the templates and filters")]) from None


def _load_checked(text, source, env, validate_document, build_mapping, check_against_samples):
    document = parse_document(text, source, env)
    loaded, problems = validate_document(document)
    # A value the document step refused is None by now; the schema's complaint about
    # that None would only repeat the problem.
    problems = document.problems + [
        problem for problem, path in problems if path not in document.bad_paths]
    if problems:
        raise MappingError(_in_file_order(problems))
    mapping = build_mapping(loaded, document, env)
    problems = check_against_samples(mapping, document)
    if problems:
        raise MappingError(_in_file_order(problems))
    return mapping


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda problem: (problem.line, problem.col))


def read_mapping_file(path: str | os.PathLike) -> str:
    """The file's text; a missing or unreadable file is a :class:`MappingError`."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError([Problem(str(path), 0, 0, (
            "mapping file not found; set BRIDGE_MAPPING to the mapping file's path,"
            " or copy config/mapping.yaml there"))]) from None
    except UnicodeDecodeError as error:
        raise MappingError([Problem(str(path), 0, 0, f"the file is not UTF-8 text: {error}")]
                           ) from None
    except OSError as error:
        raise MappingError([Problem(str(path), 0, 0, f"cannot read the mapping file:"
                                    f" {error.strerror or error}")]) from None


def load_mapping(path: str | os.PathLike, env: TypingMapping[str, str] | None = None):
    """Load and check the mapping file at ``path``; raises :class:`MappingError`."""
    return load_mapping_text(read_mapping_file(path), str(path), env)


@dataclass(frozen=True)
class CheckResult:
    """What ``bridge check-config`` prints: ``file:line:col: message`` lines."""

    ok: bool
    errors: list[str]
    warnings: list[str]
    mapping: Any = None  # the Mapping when ok


def check_config(path: str | os.PathLike, env: TypingMapping[str, str] | None = None
                 ) -> CheckResult:
    """Validate a mapping file without raising: errors, and warnings such as unset
    ``${ENV}`` variables (which do not stop the bridge but will fail deliveries)."""
    try:
        mapping = load_mapping(path, env)
    except MappingError as error:
        return CheckResult(False, [str(problem) for problem in error.problems], [])
    return CheckResult(True, [], [str(problem) for problem in mapping.warnings], mapping)
