"""Jinja2 templating of inventory strings: sandboxed, and an undefined name is an error.

A typo in ``{{ nett }}`` must stop validation, not render an empty address; and an inventory from a
customer's repository must not reach Python internals, hence the sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from enforcer.errors import TemplateError


@cache
def _environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


def is_template(text: str) -> bool:
    """True when ``text`` holds jinja2 syntax and so needs rendering."""
    return "{{" in text or "{%" in text or "{#" in text


def render(text: str, context: Mapping[str, Any]) -> str:
    """Render one string; plain strings come back untouched, without a jinja2 round trip."""
    return render_file(text, context) if is_template(text) else text


def render_file(source: str, context: Mapping[str, Any]) -> str:
    """Render a whole template (an inventory string, or an SSH client's config file)."""
    try:
        return _environment().from_string(source).render(context)
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"undefined variable: {exc.message}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template error: {exc}") from None
