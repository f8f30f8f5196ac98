"""New passwords, drawn with :mod:`secrets`, that every party which must store them accepts.

A password is sent to its device and stored by whoever holds it: the recorder (for a camera's channel
account) and each client that logs in with it. Each of them may refuse some passwords (a length, the
character classes, characters it forbids, letters and digits only), so the rules a new password must
meet are all of theirs at once (:func:`combine`), and :func:`generate` draws one that meets them.

Symbols are drawn from a short set that no protocol enforcer speaks gives a meaning (no quote, ``&``,
``;``, ``:``, ``%``, ``#``, ``=``, space or backslash), so a password is never mangled on its way into a
URL, an XML body, a JSON string or a client's config file; length, not the alphabet, gives the strength.

    >>> from enforcer.drivers.base import PasswordRules
    >>> rules = combine([PasswordRules(max_length=16), PasswordRules(min_length=8, max_length=32, min_classes=2)])
    >>> (rules.min_length, rules.max_length, rules.min_classes)
    (8, 16, 2)
    >>> password = generate(rules)
    >>> len(password), rules.problem(password) is None
    (16, True)
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable

from enforcer.drivers.base import PasswordRules
from enforcer.errors import EnforcerError

__all__ = ["LENGTH", "SYMBOLS", "NoPassword", "combine", "generate"]

#: The length drawn where the rules allow it: 24 characters of a 68-letter alphabet, about 146 bits.
LENGTH = 24
#: Symbols drawn (those no protocol or config file enforcer writes gives a meaning).
SYMBOLS = "!*-._@"


class NoPassword(EnforcerError, ValueError):
    """No password meets every rule at once (say, one party wants 20 characters and another at most 16)."""


def combine(rules: Iterable[PasswordRules]) -> PasswordRules:
    """The rules a password must meet to satisfy every one of ``rules``."""
    out = PasswordRules(min_length=1, max_length=10_000)
    for r in rules:
        out = PasswordRules(
            min_length=max(out.min_length, r.min_length),
            max_length=min(out.max_length, r.max_length),
            min_classes=max(out.min_classes, r.min_classes),
            forbidden="".join(sorted(set(out.forbidden) | set(r.forbidden))),
            alphanumeric=out.alphanumeric or r.alphanumeric,
        )
    return out


def generate(rules: PasswordRules, *, length: int = LENGTH) -> str:
    """A random password meeting ``rules``: ``length`` characters where they allow it, one at least of every
    character class they leave, the rest from all of them; NoPassword when no password meets them."""
    classes = [string.ascii_uppercase, string.ascii_lowercase, string.digits]
    if not rules.alphanumeric:
        classes.append(SYMBOLS)
    classes = [kept for c in classes if (kept := "".join(ch for ch in c if ch not in rules.forbidden))]
    size = min(max(length, rules.min_length), rules.max_length)
    if size < rules.min_length or size < rules.min_classes or len(classes) < rules.min_classes:
        raise NoPassword(
            f"no password meets every rule at once ({rules.min_length} to {rules.max_length} characters, "
            f"{rules.min_classes} character classes, {len(classes)} classes allowed)"
        )
    alphabet = "".join(classes)
    chosen = [secrets.choice(c) for c in classes[:size]]
    chosen += [secrets.choice(alphabet) for _ in range(size - len(chosen))]
    secrets.SystemRandom().shuffle(chosen)
    password = "".join(chosen)
    assert rules.problem(password) is None, "generated a password its own rules refuse"
    return password
