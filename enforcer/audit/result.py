"""What an audit comes to: per device, per site, per play, and for the whole run. Plain data.

Every report renders these (console, HTML, JSON, JUnit, Markdown) and none computes anything of its own
beyond counting, so all views agree. Nothing here holds a secret value.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from enforcer.audit.findings import KINDS, SEVERITIES, Check, Finding, FindingKind, Severity
from enforcer.audit.forensics import Activity

#: ``compliant``: read, nothing but info found; ``noncompliant``: read, something found; ``locked``: it
#: refuses us now; ``unread``: it could not be read (unreachable, no stored password works, ...).
DeviceStatus = Literal["compliant", "noncompliant", "locked", "unread"]


@dataclass(frozen=True)
class Unread:
    """Why a device has no facts (the engine's gather failure, in the audit's terms)."""

    step: str
    reason: str
    unlock_seconds: float = 0.0  # > 0: it reports us locked out for this long


@dataclass(frozen=True)
class LogSummary:
    """What reading a device's security log came to."""

    records: Literal["failures", "locks"]
    failures: int = 0
    locks: int = 0
    sources: int = 0
    gap: str | None = None  # why there was nothing to read
    truncated: bool = False


@dataclass(frozen=True)
class DeviceAudit:
    """One device: who it is, what it runs, how it stands."""

    site: str
    name: str
    role: str
    vendor: str
    model: str
    address: str
    firmware: str  # as reported; "" when unread
    declared_firmware: str | None
    status: DeviceStatus
    log: LogSummary | None = None  # None: not read (no facts, or the driver cannot read logs)
    reason: str = ""  # why it is locked or unread

    @property
    def id(self) -> str:
        return f"{self.site}/{self.name}"


@dataclass(frozen=True)
class ChecklistItem:
    """A client with no API that a person must update: what, whom to ask, and the paths it holds."""

    client: str
    what: str
    contact: str
    address: str
    holds: tuple[str, ...]  # "nvr-001 as operator"
    why: str


@dataclass(frozen=True)
class SiteAudit:
    """One site: its devices, findings (most severe first), forensics and checklist."""

    site: str
    devices: tuple[DeviceAudit, ...]
    findings: tuple[Finding, ...]
    forensics: tuple[Activity, ...] = ()
    checklist: tuple[ChecklistItem, ...] = ()
    plan_error: str | None = None  # why no checklist could be planned (facts incomplete, a holder stuck)

    @property
    def compliant(self) -> bool:
        return not any(f.counts for f in self.findings)

    def of(self, device: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.device == device)

    def failing(self, device: str, check: Check) -> tuple[Finding, ...]:
        """Findings of ``check`` that count against ``device``."""
        return tuple(f for f in self.of(device) if f.check == check and f.counts)


@dataclass(frozen=True)
class PlayAudit:
    name: str
    sites: tuple[SiteAudit, ...]


@dataclass(frozen=True)
class AuditReport:
    """A whole audit run: the playbook, when, over which window, and each play's sites."""

    playbook: str
    generated: float  # UTC epoch seconds
    since: float  # the security logs' window starts here
    plays: tuple[PlayAudit, ...]

    @property
    def sites(self) -> tuple[SiteAudit, ...]:
        return tuple(s for p in self.plays for s in p.sites)

    @property
    def devices(self) -> tuple[DeviceAudit, ...]:
        return tuple(d for s in self.sites for d in s.devices)

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for s in self.sites for f in s.findings)

    @property
    def compliant(self) -> bool:
        return all(s.compliant for s in self.sites)

    @property
    def unread(self) -> tuple[DeviceAudit, ...]:
        """Devices the audit could not read for a reason other than a lock: the audit is incomplete."""
        return tuple(d for d in self.devices if d.status == "unread")

    def by_severity(self) -> dict[Severity, int]:
        counted = Counter(f.severity for f in self.findings)
        return {s: counted.get(s, 0) for s in SEVERITIES}

    def by_kind(self) -> dict[FindingKind, int]:
        counted = Counter(f.kind for f in self.findings)
        return {k: counted[k] for k in KINDS if counted.get(k)}

    def by_status(self) -> dict[DeviceStatus, int]:
        counted = Counter(d.status for d in self.devices)
        return {s: counted.get(s, 0) for s in ("compliant", "noncompliant", "locked", "unread")}
