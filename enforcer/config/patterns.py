"""Site patterns as Ansible users write them, for a playbook's ``sites:`` and for ``--limit``.

A pattern is terms joined by ``:`` or ``,``; each term names sites:

- a site name or a glob (``acme-*``), ``all`` or ``*`` for every site;
- a group name, bare or as ``group:NAME``: the sites that list it;
- ``~REGEX``: the sites whose name the regular expression matches (``re.search``);
- a device name: the site it belongs to (the site is the unit enforcer plans and applies).

As in Ansible, a term prefixed ``&`` intersects and ``!`` excludes, whatever their order: the union of
the plain terms (every site when there are none), then each intersection, then each exclusion.

    >>> from enforcer.model import Inventory, Site
    >>> sites = (Site("a", ("east",), (), ()), Site("b", (), (), ()))
    >>> inv = Inventory("o", __import__("pathlib").Path("."), sites, groups=("east",))
    >>> select(inv, ["all:!b"]), select(inv, ["east"]), select(inv, ["~^[ab]$", "&east"])
    (('a',), ('a',), ('a',))

Several patterns (a playbook's list, ``--limit`` given twice) are one pattern joined by ``,``.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Sequence

from enforcer.model import Inventory


class PatternError(ValueError):
    """A term that names nothing, or is not a valid pattern; the message says which and what is close."""


def terms(pattern: str) -> list[str]:
    """The terms of ``pattern`` (``a:b,!c`` → ``a``, ``b``, ``!c``); a ``~regex`` term keeps its colons."""
    if pattern.startswith(("~", "!~", "&~")):
        return [pattern]
    parts = re.split(r"(?<!\bgroup):|,", pattern)  # ``group:NAME`` is one term
    return [t.strip() for t in parts if t.strip()]


def select(
    inventory: Inventory, patterns: Sequence[str], *, report: Callable[[int, str, str], None] | None = None
) -> tuple[str, ...]:
    """The sites ``patterns`` select, in inventory order. A term that names nothing goes to ``report``
    (the pattern's index, message, hint), or raises :class:`PatternError` when there is none."""
    names = [s.name for s in inventory.sites]
    plain: set[str] = set()
    narrow: list[set[str]] = []
    exclude: set[str] = set()
    has_plain = False
    for index, term in ((i, t) for i, pattern in enumerate(patterns) for t in terms(pattern)):
        kind, body = (
            ("&", term[1:]) if term.startswith("&") else ("!", term[1:]) if term.startswith("!") else ("", term)
        )
        try:
            matched = _match(inventory, body)
        except PatternError as exc:
            if report is None:
                raise
            report(index, str(exc), _hint(inventory, body))
            continue
        if kind == "&":
            narrow.append(matched)
        elif kind == "!":
            exclude |= matched
        else:
            has_plain = True
            plain |= matched
    chosen = plain if has_plain else set(names)
    for subset in narrow:
        chosen &= subset
    return tuple(n for n in names if n in chosen - exclude)


def _match(inventory: Inventory, body: str) -> set[str]:
    names = [s.name for s in inventory.sites]
    if body in ("all", "*"):
        return set(names)
    if body.startswith("~"):
        try:
            regex = re.compile(body[1:])
        except re.error as exc:
            raise PatternError(f"{body!r} is not a regular expression: {exc}") from None
        found = {n for n in names if regex.search(n)}
    elif body.startswith("group:") or (body in inventory.groups and body not in names):
        group = body.removeprefix("group:")
        if group not in inventory.groups:
            raise PatternError(f"unknown group {group!r}")
        found = {s.name for s in inventory.sites if group in s.groups}
    else:
        found = set(fnmatch.filter(names, body))
        found |= {s.name for s in inventory.sites if any(d.name == body for d in s.devices)}
        found |= {s.name for s in inventory.sites if any(c.name == body for c in s.clients)}
    if not found:
        raise PatternError(f"{body!r} matches no site, group or device")
    return found


def _hint(inventory: Inventory, body: str) -> str:
    word = body.removeprefix("group:").lstrip("~")
    known = [s.name for s in inventory.sites] + list(inventory.groups)
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.5)
    return f"did you mean {close[0]!r}?" if close else ""
