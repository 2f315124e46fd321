"""Bounds on what an admin-written template may cost: memory, CPU and output.

Jinja's sandbox stops templates reaching Python internals, not eating the machine:
``{{ 'x' * 10**9 }}`` takes gigabytes, and ``{% if false %}{{ 9**(9**8) }}{% endif %}``
hangs at *compile* time, because Jinja folds constant expressions, even in a branch that
never runs. The sandbox's own hook for this, ``intercepted_binops``, does two things at
once: intercepted operators are not folded at compile time, and at render time they go
through :meth:`BoundedSandboxMixin.call_binop`, which refuses results over the limits
*before* computing them. Method calls (``'x'.ljust(10**9)``), filters
(``'x'|center(10**9)``, ``|join``, ``|replace``) and loops (``for`` over ``range``,
nested) are bounded the same way.

Failure policy: a template that would break a limit raises
:class:`jinja2.exceptions.SecurityError` naming the limit; the loader reports it at the
template's ``file:line:col`` when the file is checked against the sample events, and at
delivery time the ticket falls back to the built-in template (see bridge.mapping.ticket).
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import operator
import re
import signal
import threading
from typing import Any, Iterator

from jinja2 import Environment, nodes
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context

MAX_TEXT = 1_000_000  # characters of one string a template builds (Kustomer caps notes well below)
MAX_ITEMS = 100_000  # items of one list a template builds
MAX_INT_BITS = 4096  # about 1,200 decimal digits: far beyond any rating or score
MAX_LOOP_STEPS = 100_000  # loop iterations, all loops of one render together
MAX_OUTPUT = 1_000_000  # characters one template may render
CHECK_SECONDS = 20  # wall-clock limit on loading and checking a mapping (main thread only)

_WIDE_FORMAT = re.compile(r"(%|\{[^}]*:)[^a-zA-Z%}]*?(\d{7,}|\*)")
_steps: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("template_loop_steps", default=None)


def _refuse(what: str, limit: int) -> SecurityError:
    return SecurityError(f"{what} is over the template limit of {limit:,}")


def _size_of(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


def check_binop(op: str, left: Any, right: Any) -> None:
    """Raise SecurityError when ``left <op> right`` would be too big to compute."""
    if op == "**" and _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
        if right * abs(left).bit_length() > MAX_INT_BITS:
            raise _refuse("the result of ** (in bits)", MAX_INT_BITS)
    elif op == "*":
        if _is_int(left) and _is_int(right):
            if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
                raise _refuse("the result of * (in bits)", MAX_INT_BITS)
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and _is_int(times):
                limit = MAX_TEXT if isinstance(seq, str) else MAX_ITEMS
                if len(seq) * max(times, 0) > limit:
                    raise _refuse("the length of a repeated text or list", limit)
    elif op == "+" and type(left) is type(right) and isinstance(left, (str, list, tuple)):
        limit = MAX_TEXT if isinstance(left, str) else MAX_ITEMS
        if len(left) + len(right) > limit:
            raise _refuse("the length of a joined text or list", limit)
    elif op == "%" and isinstance(left, str):
        _check_format(left, right)


def _check_format(template: str, args: Any) -> None:
    values = args if isinstance(args, (tuple, list)) else (args,)
    if _WIDE_FORMAT.search(template) or ("*" in template and any(_is_int(v) and v > MAX_TEXT for v in values)):
        raise _refuse("a format width", MAX_TEXT)


def check_call(func: Any, args: tuple, kwargs: dict) -> None:
    """Raise SecurityError for a method call whose arguments ask for too much
    (``'x'.ljust(10**9)``, ``'{:>999999999}'.format(1)``, ``'x'.replace('x', big)``)."""
    values = list(args) + list(kwargs.values())
    if any(_is_int(value) and abs(value) > MAX_TEXT for value in values):
        raise _refuse("a number passed to a method", MAX_TEXT)
    bound = getattr(func, "__wrapped__", func)  # the sandbox wraps str.format in a function
    owner = getattr(bound, "__self__", None)
    name = getattr(bound, "__name__", "")
    if isinstance(owner, str):
        if name in ("format", "format_map") and _WIDE_FORMAT.search(owner):
            raise _refuse("a format width", MAX_TEXT)
        if name == "replace" and len(args) >= 2 and isinstance(args[1], str):
            _check_replace(owner, args[0], args[1])
        if name == "join":
            _check_join(args[0] if args else ())


def _check_replace(text: str, old: Any, new: str) -> None:
    if not isinstance(old, str) or len(new) <= len(old):
        return
    count = text.count(old) if old else len(text) + 1  # '' matches between every character
    if len(text) + count * (len(new) - len(old)) > MAX_TEXT:
        raise _refuse("the length of a replaced text", MAX_TEXT)


def _check_join(items: Any) -> None:
    if isinstance(items, (list, tuple)):
        if sum(_size_of(item) if isinstance(item, str) else 32 for item in items) > MAX_TEXT:
            raise _refuse("the length of a joined text", MAX_TEXT)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ------------------------------------------------------------------------------- filters
def bounded_filter(name: str, func):
    """``func`` (a Jinja filter) with the same argument checks as a method call, and the
    special costs of ``join``, ``replace``, ``format`` and ``indent`` checked first."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        plain = [a for a in args if not _is_context(a)]
        if any(_is_int(v) and abs(v) > MAX_TEXT for v in plain[1:] + list(kwargs.values())):
            raise _refuse(f"a number passed to the {name} filter", MAX_TEXT)
        if name == "join" and plain:
            _check_join(list(plain[0]) if isinstance(plain[0], (list, tuple, range)) else plain[0])
        elif name == "replace" and len(plain) >= 3 and isinstance(plain[0], str) and isinstance(plain[2], str):
            _check_replace(plain[0], plain[1], plain[2])
        elif name == "format" and plain and isinstance(plain[0], str):
            _check_format(plain[0], tuple(plain[1:]))
        elif name == "indent" and plain and isinstance(plain[0], str):
            width = plain[1] if len(plain) > 1 else kwargs.get("width", 4)
            if _is_int(width) and (plain[0].count("\n") + 1) * width > MAX_TEXT:
                raise _refuse("the length of an indented text", MAX_TEXT)
        return func(*args, **kwargs)

    return wrapper


def _is_context(value: Any) -> bool:
    """What Jinja passes first to pass_context / pass_eval_context / pass_environment filters."""
    return isinstance(value, (Context, EvalContext, Environment))


# --------------------------------------------------------------------------------- loops
def counted(iterable: Any) -> Iterator[Any]:
    """What every ``{% for %}`` iterates over (see :func:`count_loops`): the items of
    ``iterable``, charged to this render's budget of MAX_LOOP_STEPS."""
    steps = _steps.get()
    for item in iterable:
        if steps is not None:
            steps[0] += 1
            if steps[0] > MAX_LOOP_STEPS:
                raise _refuse("the number of loop steps in one template", MAX_LOOP_STEPS)
        yield item


COUNTED = "bridge_counted_loop"  # the global name the rewritten loops call


def count_loops(template: nodes.Template) -> nodes.Template:
    """Rewrite every ``for x in ITER`` of a parsed template into ``for x in counted(ITER)``."""
    for loop in template.find_all(nodes.For):
        loop.iter = nodes.Call(nodes.Name(COUNTED, "load"), [loop.iter], [], None, None,
                               lineno=loop.iter.lineno)
    return template


@contextlib.contextmanager
def render_budget() -> Iterator[None]:
    """A fresh loop budget for one render (nested renders share the outer one)."""
    if _steps.get() is not None:
        yield
        return
    token = _steps.set([0])
    try:
        yield
    finally:
        _steps.reset(token)


def render_bounded(template, context: dict) -> str:
    """Render with a loop budget, stopping once the output passes MAX_OUTPUT."""
    parts: list[str] = []
    size = 0
    with render_budget():
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise _refuse("the length of a rendered template", MAX_OUTPUT)
            parts.append(chunk)
    return "".join(parts)


BINOPS = frozenset({"*", "**", "+", "%"})
_OPS = {"*": operator.mul, "**": operator.pow, "+": operator.add, "%": operator.mod}


class BoundedSandboxMixin:
    """Mixed into the sandbox environment: see the module docstring."""

    intercepted_binops = BINOPS

    def call_binop(self, context, operator_name: str, left: Any, right: Any) -> Any:
        check_binop(operator_name, left, right)
        if operator_name == "%" and isinstance(left, str):
            return super().call_binop(context, operator_name, left, right)  # the sandbox's safe %
        return _OPS[operator_name](left, right)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - Jinja's signature
        check_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def _parse(self, source, name, filename):
        return count_loops(super()._parse(source, name, filename))


# ---------------------------------------------------------------------------- time limit
class CheckTimeout(Exception):
    """Loading or checking a mapping took longer than CHECK_SECONDS."""


@contextlib.contextmanager
def time_limit(seconds: float = CHECK_SECONDS) -> Iterator[None]:
    """Raise CheckTimeout in the block after ``seconds``, using SIGALRM: only possible on
    the main thread of a process (``bridge check-config``, ``bridge mapping``, a worker's
    start-up); elsewhere a no-op, and the bounds above are what protect the process."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum, frame):
        raise CheckTimeout(f"checking the mapping took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
