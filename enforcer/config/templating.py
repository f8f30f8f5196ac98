"""Jinja2 templating of inventory strings and client files: sandboxed, bounded, and strict.

A typo in ``{{ nett }}`` must stop validation, not render an empty address; and an inventory from a
customer's repository must not reach Python internals, other files, or unbounded CPU and memory:
hence the bounded sandbox of :mod:`enforcer.config._sandbox`. Every failure, whatever raised it,
comes out as a :class:`TemplateError` whose message names the template line where it helps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache, lru_cache
from types import TracebackType
from typing import TYPE_CHECKING, Any

from enforcer.config._budget import LimitExceeded, bounded, shared_totals

if TYPE_CHECKING:
    import jinja2

    from enforcer.config._sandbox import BoundedEnvironment

__all__ = ["TemplateError", "is_template", "render", "render_file", "shared_totals", "substitute"]

from enforcer.errors import TemplateError


@cache
def _environment() -> BoundedEnvironment:
    """The sandbox, imported with jinja2 when a string first needs more than a substitution."""
    from enforcer.config._sandbox import BoundedEnvironment

    return BoundedEnvironment()


@lru_cache(maxsize=1024)
def _compiled(source: str) -> jinja2.Template:
    """Compiling is most of the cost, and a fleet renders the same strings once per device."""
    return _environment().prepare(source)


def is_template(text: str) -> bool:
    """True when ``text`` holds jinja2 syntax and so needs rendering."""
    return "{{" in text or "{%" in text or "{#" in text


def render(text: str, context: Mapping[str, Any]) -> str:
    """Render one string; plain strings come back untouched, without a jinja2 round trip, and so do the
    substitutions most inventory strings are (see :func:`substitute`)."""
    if not is_template(text):
        return text
    done = substitute(text, context)
    return done if done is not None else render_file(text, context)


#: ``{{ name }}``: the one construct :func:`substitute` renders itself.
_HOLE = re.compile(r"\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\}\}")
#: Names jinja2 does not read as a variable of the context: constants, an operator, the template itself.
_NOT_VARIABLES = frozenset({"true", "false", "none", "True", "False", "None", "not", "self"})


def substitute(text: str, context: Mapping[str, Any]) -> str | None:
    """``text`` rendered as jinja2 would, when it is literal text and ``{{ name }}`` of names ``context``
    holds, and nothing else (``"{{ net }}.10"``, ``"vault:{{ vault }}#{{ device }}/admin"``); ``None``
    for anything else, which jinja2 renders (and whose errors it words).

    Why: every device renders its own address and inherited secret references, each a string of its
    own, and compiling each in the sandbox cost about half a millisecond: most of loading a fleet.
    What is written counts against the load's template totals exactly as jinja2's output does.

        >>> substitute("vault:{{ vault }}#{{device}}/admin", {"vault": "v.vault", "device": "cam-1"})
        'vault:v.vault#cam-1/admin'
        >>> substitute("{{ net | upper }}.10", {"net": "x"}) is None
        True
    """
    parts = _HOLE.split(text)
    written = 0
    for i, part in enumerate(parts):
        if i % 2 == 0:
            # Anything jinja2 might read as syntax, or rewrite (newlines), is left to jinja2.
            if "{" in part or "}" in part or "\r" in part:
                return None
            continue
        if part in _NOT_VARIABLES or part not in context:
            return None  # a constant, a global, or an undefined name: jinja2's to render or refuse
        parts[i] = str(context[part])
        written += len(parts[i])
    try:
        with bounded() as spent:
            spent.grow(written)
    except LimitExceeded as exc:
        raise TemplateError(f"template limit: {exc}") from None
    return "".join(parts)


def render_file(source: str, context: Mapping[str, Any]) -> str:
    """Render a whole template (an inventory string, or an SSH client's config file)."""
    import jinja2

    multiline = "\n" in source.rstrip("\n")
    try:
        with bounded():
            return _compiled(source).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error{_at(exc.lineno, multiline)}: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"undefined variable{_line(exc, multiline)}: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template error{_line(exc, multiline)}: {exc}") from None
    except LimitExceeded as exc:
        raise TemplateError(f"template limit{_line(exc, multiline)}: {exc}") from None
    except RecursionError:
        raise TemplateError("template nests or recurses too deeply") from None
    except MemoryError:
        raise TemplateError("template needs more memory than a template may use") from None
    except Exception as exc:  # an operation on the data failed: 1/0, 'a' + 1, a bad range()
        raise TemplateError(f"template failed{_line(exc, multiline)}: {_describe(exc)}") from None


def _line(exc: BaseException, multiline: bool) -> str:
    """The template line the failure happened on: jinja2 rewrites tracebacks to template lines."""
    line = None
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return _at(line, multiline)


def _at(line: int | None, multiline: bool) -> str:
    return f" on template line {line}" if line and multiline else ""


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "…"
