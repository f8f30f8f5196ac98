"""A jinja2 sandbox whose every rendering is bounded in steps, size and time.

jinja2's sandbox keeps a template away from Python internals but not from the CPU or memory: two
nested ``range(100000)`` loops never end, and ``'x' * 10**10`` allocates 10 GB in one step. Here
each rendering gets a :class:`Budget` (see :mod:`enforcer.config.limits`) and every place where a
template can loop, call or build a value charges it:

- every ``for`` loop iterates through a filter the parser inserts (``_enforcer_loop``), which
  charges one step and the loop body's literal text per iteration;
- calls (macros, methods, ``range``), filters, the ``+ * ** %`` operators, ``~`` and every ``{{ }}``
  output charge what they build; the steps that could build far more than they are given (a
  repeated string, a ``join``, a padded format, a huge power) are refused before they run;
- inside :class:`shared_totals` (one inventory's load), every rendering also counts against one
  :class:`Totals`, since an inherited string is rendered once per device.

``{% include %}``, ``{% import %}`` and ``{% extends %}`` have no loader to read from, and are
refused by name so that a template can never reach another file.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextvars import ContextVar
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Joiner, Namespace

from enforcer.config import limits

LOOP_FILTER = "_enforcer_loop"
_FORBIDDEN = {
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from … import %}",
    nodes.Extends: "{% extends %}",
}
#: String methods that build output from a small table or count the sandbox cannot bound.
_UNSAFE_STR_METHODS = frozenset({"translate", "maketrans", "expandtabs", "format_map", "encode"})
#: Callables whose integer arguments set the size of what they build.
_SIZING_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})
_SIZING_FILTERS = frozenset({"center", "indent", "batch", "slice"})
#: A ``%`` conversion's width and precision, and a ``{}`` field's format spec.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d*)(?:\.(\*|\d*))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*?:([^{}]*)")
_NESTED_FIELD = re.compile(r"\{[^{}]*:[^{}]*\{")
_NUMBER = re.compile(r"\d+")


class LimitExceeded(Exception):
    """A rendering went past one of :mod:`enforcer.config.limits`; the message says which."""


class Totals:
    """What all the renderings of one load spent together: an inherited string is rendered once per
    device, so a template just under every limit would otherwise cost that once per device."""

    def __init__(self) -> None:
        self.steps = 0
        self.size = 0


class Budget:
    """What one rendering may still spend: steps (loop iterations, calls), characters, time."""

    def __init__(self, totals: Totals | None = None) -> None:
        self.steps = 0
        self.size = 0
        # CPU time of this thread: what the template costs, not how busy the machine is (a loaded CI runner).
        self.deadline = time.thread_time() + limits.MAX_TEMPLATE_SECONDS
        self.totals = totals or Totals()

    @property
    def room(self) -> int:
        """Characters this rendering may still build."""
        return min(limits.MAX_TEMPLATE_OUTPUT - self.size, limits.MAX_TEMPLATE_OUTPUT_TOTAL - self.totals.size)

    def step(self, count: int = 1) -> None:
        self.steps += count
        self.totals.steps += count
        if self.steps > limits.MAX_TEMPLATE_STEPS:
            raise LimitExceeded(
                f"more than {limits.MAX_TEMPLATE_STEPS:,} loop iterations and calls: a template renders a "
                "file, it does not compute"
            )
        if self.totals.steps > limits.MAX_TEMPLATE_STEPS_TOTAL:
            raise LimitExceeded(
                f"the inventory's templates together ran more than {limits.MAX_TEMPLATE_STEPS_TOTAL:,} loop "
                "iterations and calls"
            )
        if self.steps % 256 == 0 and time.thread_time() > self.deadline:
            raise LimitExceeded(f"rendering took more than {limits.MAX_TEMPLATE_SECONDS:g} s of CPU")

    def charge(self, value: Any) -> Any:
        """Count what ``value`` holds against the size limit; returns it unchanged."""
        self.grow(_size(value))
        return value

    def grow(self, size: int) -> None:
        self.size += size
        self.totals.size += size
        if self.size > limits.MAX_TEMPLATE_OUTPUT:
            raise LimitExceeded(too_big())
        if self.totals.size > limits.MAX_TEMPLATE_OUTPUT_TOTAL:
            raise LimitExceeded(
                f"the inventory's templates together built more than {limits.MAX_TEMPLATE_OUTPUT_TOTAL:,} characters"
            )

    def fits(self, size: int) -> None:
        """Refuse, before building it, a value of ``size`` characters that would not fit."""
        if size > self.room:
            raise LimitExceeded(too_big())


def too_big() -> str:
    return f"would build more than the {limits.MAX_TEMPLATE_OUTPUT:,} characters a template may produce"


_BUDGET: ContextVar[Budget | None] = ContextVar("enforcer_template_budget", default=None)
_TOTALS: ContextVar[Totals | None] = ContextVar("enforcer_template_totals", default=None)


def budget() -> Budget:
    """The current rendering's budget (outside :class:`bounded`, a fresh one each time: never unlimited)."""
    return _BUDGET.get() or Budget()


class bounded:
    """``with bounded():`` gives the code inside a fresh :class:`Budget`, counted in the load's totals."""

    def __enter__(self) -> Budget:
        fresh = Budget(_TOTALS.get())
        self._token = _BUDGET.set(fresh)
        return fresh

    def __exit__(self, *exc: object) -> None:
        _BUDGET.reset(self._token)


class shared_totals:
    """``with shared_totals():`` counts every rendering inside against one :class:`Totals`."""

    def __enter__(self) -> Totals:
        totals = Totals()
        self._token = _TOTALS.set(totals)
        return totals

    def __exit__(self, *exc: object) -> None:
        _TOTALS.reset(self._token)


def _size(value: Any) -> int:
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset | range):
        return len(value)
    return 0


def _ints(values: Iterable[Any]) -> Iterator[int]:
    return (v for v in values if isinstance(v, int) and not isinstance(v, bool))


def _check_sizes(subject: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *, sizing: bool) -> None:
    """Refuse a step whose result could outgrow the budget: ``subject`` repeated per argument, or a
    width beyond it. The product is a bound on what ``join``, ``replace``, ``indent`` or a format
    with repeated fields can build from these inputs."""
    current = budget()
    values = (*args, *kwargs.values())
    if sizing:
        for number in _ints(values):
            current.fits(abs(number))
    widest = max((_size(v) for v in values), default=0)
    current.fits(_size(subject) * widest)


def _check_format(text: str, args: Iterable[Any], *, braces: bool) -> None:
    """A format's widths and precisions (``%99999d``, ``{:>99999}``, or ``%*d`` and ``{:{}}`` taking
    them from the arguments) set the size of what it builds."""
    current = budget()
    if braces:
        specs = _BRACE_SPEC.findall(text)
        from_args = bool(_NESTED_FIELD.search(text))
    else:
        found = _PERCENT_SPEC.findall(text)
        specs = [part for pair in found for part in pair]
        from_args = "*" in specs
    for spec in specs:
        for number in _NUMBER.findall(spec):
            current.fits(int(number) if len(number) < 10 else limits.MAX_TEMPLATE_OUTPUT + 1)
    if from_args:
        for number in _ints(args):
            current.fits(abs(number))


def _check_binop(operator: str, left: Any, right: Any) -> None:
    current = budget()
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if _size(seq) and isinstance(times, int):
                current.fits(_size(seq) * max(times, 0))
        if isinstance(left, int) and isinstance(right, int):
            _fits_bits(left.bit_length() + right.bit_length())
    elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        _fits_bits(left.bit_length() * right)
    elif operator == "%" and isinstance(left, str):
        values = right if isinstance(right, tuple) else (right,)
        _check_format(left, values, braces=False)
        current.fits(len(left) * max((_size(v) for v in values), default=0))


def _fits_bits(bits: int) -> None:
    if bits > limits.MAX_TEMPLATE_INT_BITS:
        raise LimitExceeded(f"a number of more than {limits.MAX_TEMPLATE_INT_BITS:,} bits is too large for a template")


def _range(*args: int) -> range:
    """``range`` with at most :data:`~enforcer.config.limits.MAX_TEMPLATE_RANGE` items."""
    result = range(*args)
    if len(result) > limits.MAX_TEMPLATE_RANGE:
        raise LimitExceeded(f"range() of {len(result):,} items: at most {limits.MAX_TEMPLATE_RANGE:,}")
    return result


def _loop(iterable: Iterable[Any], literal: int = 0) -> Iterator[Any]:
    """Every ``for`` loop runs through this: one step and the body's literal text per iteration."""
    current = budget()
    for item in iterable:
        current.step()
        current.grow(literal)
        yield item


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    # jinja2 passes the context, eval context or environment first to filters marked for it.
    first = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        current = budget()
        current.step()
        if len(args) > first:
            subject = args[first]
            if name == "join" and not isinstance(subject, Sized):
                subject = list(subject)
                current.step(len(subject))
                args = (*args[:first], subject, *args[first + 1 :])
            if name == "format" and isinstance(subject, str):
                _check_format(subject, (*args[first + 1 :], *kwargs.values()), braces=False)
            _check_sizes(subject, args[first + 1 :], kwargs, sizing=name in _SIZING_FILTERS)
        return current.charge(func(*args, **kwargs))

    return wrapper


def _finalize(value: Any) -> str:
    """Every ``{{ }}`` output passes here: counted against the size limit."""
    text = str(value)
    budget().grow(len(text))
    return text


class _CodeGenerator(CodeGenerator):
    """Charges the result of ``~``, which jinja2 joins without asking the environment."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.charge(")
        super().visit_Concat(node, frame)
        self.write(")")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox, strict about undefined names, with every rendering bounded."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            finalize=_finalize,
        )
        # No lipsum: it builds text from a count. range is bounded; the rest build nothing large.
        self.globals = {"range": _range, "dict": dict, "cycler": Cycler, "joiner": Joiner, "namespace": Namespace}
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.filters[LOOP_FILTER] = _loop

    def prepare(self, source: str) -> jinja2.Template:
        """Parse ``source``, refuse what reads other files, route every loop through the budget."""
        tree = self.parse(source)
        for kind, tag in _FORBIDDEN.items():
            for node in tree.find_all(kind):
                raise jinja2.TemplateSyntaxError(
                    f"{tag} is not allowed: a template is self-contained and reads no other file", node.lineno
                )
        for loop in tree.find_all(nodes.For):
            literal = sum(len(d.data) for part in (*loop.body, *loop.else_) for d in part.find_all(nodes.TemplateData))
            loop.iter = nodes.Filter(
                loop.iter, LOOP_FILTER, [nodes.Const(literal)], [], None, None, lineno=loop.iter.lineno
            )
        return self.from_string(tree)

    def charge(self, value: Any) -> Any:
        return budget().charge(value)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in _UNSAFE_STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, int):
            _fits_bits(result.bit_length())
        return budget().charge(result)

    def call(
        __self,  # jinja2's own signature: positional-only by name, so a keyword named self still passes
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        current = budget()
        current.step()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | list | tuple | dict):
            _check_sizes(owner, args, kwargs, sizing=getattr(__obj, "__name__", "") in _SIZING_METHODS)
        return current.charge(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text: str = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            _check_format(text, (*args, *kwargs.values()), braces=True)
            _check_sizes(text, args, kwargs, sizing=False)
            return wrapped(*args, **kwargs)

        return checked
