"""Precedence: settings layered from organisation defaults down to the device, remembering origins.

A value inherited from the organisation's defaults is reported, when it is wrong, at the line where
it is written, not at the device that inherited it; so every merged leaf keeps a pointer back to its
document and key path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from enforcer.config._yaml import Document, KeyPath
from enforcer.config.diagnostics import Location

#: Settings a device inherits, in the order a level may give them.
SETTINGS = ("accounts", "lock_policy", "isolation", "unlock", "port", "sdk_port", "scheme", "tls")

#: What a device has when nobody says otherwise.
BUILTIN: dict[str, Any] = {
    "accounts": {},
    "lock_policy": {"enabled": True, "max_attempts": 5, "lock_minutes": 30},
    "isolation": "ip_filter",
    "unlock": "wait",
    "scheme": "http",
    "tls": {"verify": True},
}


def plain_copy(value: Any) -> Any:
    """A copy of loaded data (mappings, lists, scalars), as ``copy.deepcopy`` makes one but without its
    bookkeeping: every device copies what it inherits, and deepcopy was a tenth of building a fleet.
    (The loader never shares a value between two places: an alias is built again where it is used.)"""
    if isinstance(value, dict):
        return {key: plain_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_copy(item) for item in value]
    return value


def is_secret(value: Any) -> bool:
    """A secret reference as the YAML loader produces it; replaced whole, never merged."""
    return isinstance(value, dict) and len(value) == 1 and ("secret" in value or "vault" in value)


@dataclass
class Layered:
    """A merged mapping and, for each key path in it, the document and key path it came from."""

    value: dict[str, Any] = field(default_factory=dict)
    origins: dict[KeyPath, tuple[Document, KeyPath]] = field(default_factory=dict)

    def overlay(self, layer: dict[str, Any] | None, doc: Document | None, at: KeyPath) -> None:
        """Lay ``layer`` (found in ``doc`` at ``at``) over what is there: mappings merge, the rest replaces."""
        if layer:
            self._overlay(self.value, layer, doc, at, ())

    def _overlay(
        self, target: dict[str, Any], layer: dict[str, Any], doc: Document | None, at: KeyPath, rel: KeyPath
    ) -> None:
        for key, value in layer.items():
            here = (*rel, key)
            if isinstance(value, dict) and isinstance(target.get(key), dict) and not is_secret(value):
                self._overlay(target[key], value, doc, (*at, key), here)
                continue
            target[key] = plain_copy(value)
            for stale in [p for p in self.origins if p[: len(here)] == here]:
                del self.origins[stale]
            if doc is not None:
                self.origins[here] = (doc, (*at, key))

    def where(self, rel: KeyPath, fallback: Location) -> Location:
        """Where the value at ``rel`` was written (``fallback`` for built-in defaults)."""
        for size in range(len(rel), 0, -1):
            origin = self.origins.get(rel[:size])
            if origin is not None:
                doc, at = origin
                return doc.where((*at, *rel[size:]))
        return fallback


def layers_for(role: str, level: dict[str, Any] | None) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    """A level's general settings, then its role-specific block, as (settings, relative key path)."""
    if not level:
        return []
    general = {k: v for k, v in level.items() if k in SETTINGS}
    role_block = level.get(f"{role}s") or {}
    return [(general, ()), (role_block, (f"{role}s",))]
