"""Finding plaintext secrets in a repository's files: known password fields given a literal value, and
high-entropy strings that look like keys or passwords. Pure: it reads the text it is given.

A finding names file, line and why, never the value. A line that must hold such a value (a public key's
fingerprint, say) is let through by a ``enforce: not-secret`` comment on it.

    >>> [f.why for f in scan_text("a.yml", 'password: hunter2\\nkey: !secret "env:K"\\n')]
    ['password holds a literal value, not a !secret reference or a vault']
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

__all__ = ["Finding", "entropy", "scan_text"]

#: Keys whose value is a secret wherever they appear (YAML, INI, .env, JSON).
_FIELD = re.compile(
    r"""(?:^|[\s{,])["']?(?P<key>[A-Za-z0-9_.-]*?(?:password|passwd|passphrase|pwd|secret|token|api_?key|"""
    r"""private_?key))["']?\s*[:=][ \t]*(?P<tag>!\w+\s+)?(?P<literal>"[^"]*"|'[^']*'|[^,}\]#]*)""",
    re.IGNORECASE,
)
#: Values that are not secrets themselves: a reference, a template, a variable, nothing.
_REFERENCE = re.compile(
    r"""^(?:!secret\b|!vault\b|\{\{|\$\{\{|\$\{?[A-Za-z_]|\{\s*\w+:|\[|[|>][-+]?$|null$|~$|none$)""", re.I
)
_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-!@*.~]{20,}")
_PUBLIC = re.compile(r"(?:SHA256:|sha256:|[0-9a-f]{8}-[0-9a-f]{4}-)", re.IGNORECASE)
_ALLOW = "enforce: not-secret"
_VAULT = "$ANSIBLE_VAULT;"


@dataclass(frozen=True)
class Finding:
    """A place where a secret may be held in clear; ``why`` never quotes it."""

    file: str
    line: int
    why: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.why}"


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values()) if text else 0.0


def _mixed(text: str) -> bool:
    """Upper case, lower case and digits together: what generated passwords and API tokens have, and
    paths, names and versions (``actions/setup-python@v5``) do not."""
    return any(c.islower() for c in text) and any(c.isupper() for c in text) and any(c.isdigit() for c in text)


def _literal(field: re.Match[str]) -> bool:
    """Whether a password field's value is written out (not a tag, a reference, a template or nothing)."""
    if field.group("tag"):  # a YAML tag: !secret, !vault
        return False
    value = field.group("literal").strip().strip("\"'").strip()
    return bool(value) and not _REFERENCE.match(value)


def scan_text(name: str, text: str) -> list[Finding]:
    """The findings in one file's text (a vault file, encrypted whole, has none)."""
    if text.lstrip().startswith(_VAULT):
        return []
    out: list[Finding] = []
    in_vault_block = False
    for number, line in enumerate(text.splitlines(), 1):
        if _ALLOW in line:
            continue
        stripped = line.strip()
        if in_vault_block:  # the hex body of an inline !vault | block
            if re.fullmatch(r"[0-9a-f]*", stripped) or stripped.startswith(_VAULT):
                continue
            in_vault_block = False
        if re.search(r"!vault\s*\|", line):
            in_vault_block = True
            continue
        literal = next((f for f in _FIELD.finditer(line) if _literal(f)), None)
        if literal is not None:
            why = f"{literal.group('key')} holds a literal value, not a !secret reference or a vault"
            out.append(Finding(name, number, why))
            continue
        for token in _TOKEN.findall(line):
            if _PUBLIC.search(line) or re.fullmatch(r"[0-9a-fA-F:]+", token):
                continue
            if _mixed(token) and entropy(token) >= 3.5:
                out.append(Finding(name, number, f"a high-entropy string of {len(token)} characters (a secret?)"))
                break
    return out
