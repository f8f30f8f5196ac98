"""Every exception enforcer raises on purpose.

::

    EnforcerError
    ├── ConfigError (ValueError)      inventory or playbook problems, each with file, line and key
    ├── SecretError (LookupError)     a secret reference that cannot be resolved
    └── DeviceError                   a device or client failed: site, device, step, what it said
        └── LockedOut (drivers.discovery)  the device reports our source locked, with the time left

Library code raises these; only the command line turns them into exit codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from enforcer.config.diagnostics import Diagnostic


class EnforcerError(Exception):
    """Base of all of enforcer's own errors."""


class ConfigError(EnforcerError, ValueError):
    """The inventory or playbook is wrong; ``diagnostics`` holds every problem found."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        count = len(self.diagnostics)
        lines = "\n".join(str(d) for d in self.diagnostics)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the configuration:\n{lines}")


class SecretError(EnforcerError, LookupError):
    """A secret reference could not be resolved; the message never holds a secret value."""


class DeviceError(EnforcerError):
    """A device or client failed during a step."""

    def __init__(self, *, site: str, device: str, step: str, detail: str) -> None:
        self.site, self.device, self.step, self.detail = site, device, step, detail
        super().__init__(f"{site}/{device}: {step}: {detail}")
