"""Kustomer's request contract, written once: what each Kustomer operation the bridge uses accepts.

One JSON file per operation in ``operations/`` (``<OperationName>.json``)::

    {"operation": "AppendTagsToConversation", "method": "POST",
     "path": "/v1/conversations/{id}/tags",
     "docs": "where it is documented",
     "unconfirmed": ["what the docs do not confirm"],
     "request": <JSON Schema of the body, or null for no body>}

Every file in the folder is loaded; adding an operation means adding a file, nothing else.
A path segment may hold ``{placeholders}`` anywhere (``email={email}``). Schema nodes may
carry ``x-explain`` (said with every violation inside them) and the request schema may carry
``x-max-bytes`` (the encoded body's limit).

Both sides enforce it: the emulator refuses anything outside it with a 400 in Kustomer's
error shape (an unknown route is a 404), and the tests that mock Kustomer with ``responses``
check every body they capture against it (``tests/kustomer_contract.py``).

Failure policy: a malformed operation file raises ``ContractError`` on import, so a broken
contract stops the tests (and the emulator) at once instead of quietly checking nothing.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

OPERATIONS_DIR = Path(__file__).with_name("operations")
NO_BODY = object()  # "the request had no body at all", as opposed to a JSON null
_PLACEHOLDER = re.compile(r"\{[^{}/]+\}")
_REQUIRED = re.compile(r"^'(.+)' is a required property$")


class ContractError(Exception):
    """An operation file that cannot be used (bad JSON, missing member, invalid schema)."""


@dataclass(frozen=True)
class Operation:
    operation: str
    method: str
    path: str
    docs: str
    unconfirmed: tuple[str, ...] = ()
    request: Any = None
    source: str = field(default="", compare=False)

    @cached_property
    def pattern(self) -> re.Pattern:
        parts, last = [], 0
        for match in _PLACEHOLDER.finditer(self.path):
            parts.append(re.escape(self.path[last:match.start()]))
            parts.append("[^/]+")
            last = match.end()
        parts.append(re.escape(self.path[last:]))
        return re.compile("".join(parts))

    @property
    def specificity(self) -> int:
        """Literal characters in the path: ``email={email}`` beats ``{id}``."""
        return len(_PLACEHOLDER.sub("", self.path))

    @property
    def max_bytes(self) -> int | None:
        return self.request.get("x-max-bytes") if isinstance(self.request, dict) else None

    @cached_property
    def validator(self) -> Draft202012Validator | None:
        return None if self.request is None else Draft202012Validator(self.request)

    def problems(self, body: Any = NO_BODY) -> list[Problem]:
        """What is wrong with ``body`` (parsed JSON) for this operation; [] when it fits."""
        if self.request is None:
            return [] if body is NO_BODY else [Problem(self.operation, "/", "takes no request body")]
        if body is NO_BODY:
            return [Problem(self.operation, "/", "needs a JSON body")]
        found = []
        for error in sorted(self.validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path]):
            path = [str(p) for p in error.absolute_path]
            missing = _REQUIRED.match(error.message) if error.validator == "required" else None
            if missing:
                path.append(missing.group(1))
            found.append(Problem(self.operation, "/" + "/".join(path), _message(error),
                                 _explanation(self.request, error)))
        return found

    def violations(self, body: Any = NO_BODY) -> list[str]:
        return [str(problem) for problem in self.problems(body)]


@dataclass(frozen=True)
class Problem:
    """One way a request body breaks the contract; ``pointer`` is a JSON pointer into it."""

    operation: str
    pointer: str
    message: str
    explain: str | None = None

    def __str__(self) -> str:
        text = f"{self.operation} body at {self.pointer}: {self.message}"
        return f"{text} ({self.explain})" if self.explain else text


def _message(error) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown key(s)")
    if error.validator == "maxLength":
        return f"{len(error.instance):,} characters, over the limit of {error.validator_value:,}"
    return error.message if len(error.message) <= 300 else error.message[:299] + "…"


def _explanation(schema: Any, error) -> str | None:
    """The nearest ``x-explain`` on the way from the root schema to the failing node."""
    found, node = schema.get("x-explain") if isinstance(schema, dict) else None, schema
    for step in error.absolute_schema_path:
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            break
        if isinstance(node, dict) and node.get("x-explain"):
            found = node["x-explain"]
    return found


def _load(path: Path) -> Operation:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        operation = Operation(
            operation=document["operation"], method=document["method"].upper(),
            path=document["path"], docs=document["docs"],
            unconfirmed=tuple(document.get("unconfirmed") or ()),
            request=document["request"], source=path.name)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ContractError(f"{path.name}: not a usable operation file ({exc!r})") from None
    if path.stem != operation.operation:
        raise ContractError(f"{path.name}: file name must be {operation.operation}.json")
    if operation.request is not None:
        try:
            Draft202012Validator.check_schema(operation.request)
        except SchemaError as exc:
            raise ContractError(f"{path.name}: request is not a valid JSON Schema: {exc.message}") from None
    return operation


def load(directory: Path = OPERATIONS_DIR) -> dict[str, Operation]:
    operations = {}
    for path in sorted(directory.glob("*.json")):
        operation = _load(path)
        operations[operation.operation] = operation
    return operations


OPERATIONS: dict[str, Operation] = load()


def operations() -> list[Operation]:
    return list(OPERATIONS.values())


def find(method: str, path_or_url: str) -> Operation | None:
    """The operation a request is for, or None. Takes a path or a whole URL; ignores the query."""
    path = urlsplit(path_or_url).path or "/"
    method = method.upper()
    matches = [op for op in OPERATIONS.values()
               if op.method == method and op.pattern.fullmatch(path)]
    return max(matches, key=lambda op: op.specificity) if matches else None


def violations(method: str, path_or_url: str, body: Any = NO_BODY) -> list[str]:
    """Everything wrong with a request, as sentences; [] when Kustomer's contract allows it.

    ``body`` is the parsed JSON body, or ``NO_BODY`` when the request had none.
    """
    operation = find(method, path_or_url)
    if operation is None:
        path = urlsplit(path_or_url).path
        return [f"{method.upper()} {path} is not a Kustomer operation the contract knows"]
    return operation.violations(body)


def unconfirmed() -> dict[str, tuple[str, ...]]:
    """Per operation, what Kustomer's docs do not confirm (for reports and docs)."""
    return {op.operation: op.unconfirmed for op in OPERATIONS.values() if op.unconfirmed}


HOOK_BODY_LIMIT: int = OPERATIONS["PostWebHook"].max_bytes
# characters in a note's body: the notes endpoint's documented limit, kept in its operation file
NOTE_BODY_LIMIT: int = OPERATIONS["CreateNoteForConversation"].request["properties"]["body"]["maxLength"]
