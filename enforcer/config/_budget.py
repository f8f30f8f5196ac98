"""What a rendering may spend, counted apart from jinja2: so that a string rendered without jinja2 (a
``{{ name }}`` substitution, :func:`enforcer.config.templating.substitute`) is counted the same way,
and a fleet whose strings are all substitutions never imports jinja2 (13 ms of every command's start).

Each rendering gets a :class:`Budget`; inside :class:`shared_totals` (one inventory's load) every
rendering also counts against one :class:`Totals`, since an inherited string is rendered once per device.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

from enforcer.config import limits


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
