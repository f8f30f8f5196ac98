"""enforcer: credentials, lock policy and firmware of surveillance fleets as declared state."""

from __future__ import annotations

__version__ = "0.1.0"
