"""The package layout's import rules (docs/architecture.md, "Rules of the layout"), checked.

Parses every module of ``bridge/`` with ``ast`` (nothing is imported) and fails on:

(a) an import cycle between modules, counting the imports that run when a module is
    imported (module level, class bodies, ``if``/``try`` at module level; not those inside
    functions, nor under ``if TYPE_CHECKING``). Importing ``bridge.a.b`` also runs
    ``bridge/a/__init__``, so that counts as an import of ``bridge.a`` too;
(b) a module-level import that points up the layering below: a unit (a subpackage of
    ``bridge``, or a module at the root) may import its own modules and units of lower
    layers, never a unit of its own layer or a higher one, except the crossings listed in
    ``CROSSINGS``.

A function-local import is outside (b): it says in a comment which cycle or cost it
avoids (the architecture document lists them). Run this file as a script to print every
violation at once: ``python tests/unit/test_layering.py``.
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bridge"

# Lowest first. One set per layer; a name is a subpackage of bridge or a root module.
LAYERS: list[set[str]] = [
    {"http", "logs"},  # shared by both HTTP clients; JSON log lines
    # The event store; Okendo's knowledge; everything that talks to Kustomer. One layer,
    # so none of the three may use another.
    {"events", "okendo", "kustomer"},
    {"bodies"},  # hook body shapes (Okendo fields in, a body out)
    {"mapping"},  # the admin-edited mapping: plans an event's actions
    {"timeline"},  # cards on the shopper's timeline: renders with the mapping's templates
    {"alerts", "setup"},  # watch the event store; the console's stored, live settings
    {"config"},  # Settings from the environment (alerts' settings among them)
    {"delivery"},  # from a stored event to Kustomer
    {"composition"},  # builds what a process runs
    {"web"},  # the web process's front door (ingest wakes the delivery queue)
    {"admin", "devtools", "migrations"},  # the console; test tools; Alembic scripts
    {"app"},  # the Flask factory: web + admin
    {"cli", "wsgi", "gunicorn_conf"},  # entry points
    {"__main__"},
]

# The documented exceptions to (b): (importing module or package, imported module).
CROSSINGS = {
    # The pool checks the round's lease before it waits for Kustomer's pace, so a round
    # that lost its event stops early.
    ("bridge.kustomer.client_pool", "bridge.delivery.lease"),
    # The mapping names the card types a timeline route can write: plain data that
    # imports nothing of the bridge.
    ("bridge.mapping", "bridge.timeline.klasses"),
    # The worker process's main builds its parts through the composition root.
    ("bridge.delivery.worker", "bridge.composition"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _import_time_nodes(tree: ast.Module):
    """Import statements that run when the module is imported."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
            continue
        todo.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported bridge module: line}, import-time imports only."""
    modules = _modules()

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = defaultdict(dict)
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        for node in _import_time_nodes(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = module.split(".")[: len(module.split(".")) - node.level + is_package]
                    base = ".".join(parts + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in targets:
                target = known(target) if target.startswith("bridge") else None
                if not target or target == module:
                    continue
                graph[module].setdefault(target, node.lineno)
                # Importing bridge.a.b runs bridge/a/__init__ first (unless we are inside it).
                parts = target.split(".")
                for i in range(2, len(parts)):
                    parent = ".".join(parts[:i])
                    if parent in modules and not module.startswith(parent + "."):
                        graph[module].setdefault(parent, node.lineno)
    return graph


def cycles(graph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in list(graph):
        if v not in index:
            visit(v)
    return groups


def unit_of(module: str) -> str:
    """bridge.delivery.queue -> delivery; bridge.config -> config; bridge -> cli's layer."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "cli"


def layer_of(unit: str) -> int:
    for number, layer in enumerate(LAYERS):
        if unit in layer:
            return number
    raise AssertionError(f"bridge.{unit} is in no layer: add it to LAYERS and to docs/architecture.md")


def _crossing_allowed(module: str, target: str) -> bool:
    return any((module == src or module.startswith(src + ".")) and (target == dst or target.startswith(dst + "."))
               for src, dst in CROSSINGS)


def back_edges(graph) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        here = unit_of(module)
        for target, line in sorted(targets.items()):
            there = unit_of(target)
            if here == there or target == "bridge":
                continue
            if any(other.startswith(target + ".") and _crossing_allowed(module, other) for other in targets):
                continue  # the package's __init__, run on the way to an allowed module
            if layer_of(there) >= layer_of(here) and not _crossing_allowed(module, target):
                path = _modules()[module].relative_to(ROOT)
                found.append(f"{path}:{line}: {here} (layer {layer_of(here)}) imports {target}"
                             f" ({there}, layer {layer_of(there)})")
    return found


def test_no_module_level_import_cycle():
    assert cycles(import_graph()) == []


def test_every_unit_has_a_layer():
    for module in _modules():
        layer_of(unit_of(module))


def test_imports_follow_the_layers():
    assert back_edges(import_graph()) == []


def test_the_checker_sees_a_back_edge_and_a_cycle():
    """The rules are not vacuous: a made-up upward edge and a made-up cycle are reported."""
    graph = {"bridge.okendo.schemas": {"bridge.delivery.queue": 1}, "bridge.delivery.queue": {}}
    assert back_edges(graph) and cycles({"bridge.a": {"bridge.b": 1}, "bridge.b": {"bridge.a": 1}})


if __name__ == "__main__":
    graph = import_graph()
    problems = [f"cycle: {' <-> '.join(group)}" for group in cycles(graph)] + back_edges(graph)
    print("\n".join(problems) or "no cycles, no back-edges")
    sys.exit(1 if problems else 0)
