"""What an audit can find: a closed set of finding kinds, each with its check, severity and title.

A closed set, as the plan's step kinds are, so every report (console, HTML, JSON and its schema, JUnit,
Markdown) can list them all and a CI dashboard can count them by name. Each finding says what is wrong
(``what``), why it matters or what caused it (``why``), and what to do (``fix``), on one device of one
site; ``evidence`` carries the structured details a machine reads (counts, sources, versions).

Every kind belongs to one *check*, the unit of a JUnit test case (one per device and check). A finding
of severity ``info`` is worth knowing but does not make a device non-compliant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)

Check = Literal["reachable", "passwords", "accounts", "firmware", "lock_policy", "channels", "drift", "security_log"]
CHECKS: tuple[Check, ...] = get_args(Check)

FindingKind = Literal[
    "locked",
    "unreadable",
    "default_password",
    "weak_password",
    "store_outdated",
    "unknown_account",
    "firmware_behind",
    "firmware_always_locks",
    "lock_disabled",
    "lock_policy_differs",
    "channel_refused",
    "drift",
    "stale_holder",
    "left_isolated",
    "stale_client",
    "stale_channel",
    "unknown_source",
    "own_failures",
    "capability_gap",
]

Scalar = str | int | float | bool | None
Evidence = tuple[tuple[str, Scalar], ...]


@dataclass(frozen=True)
class KindInfo:
    """What every finding of a kind shares."""

    check: Check
    severity: Severity
    title: str


#: Every kind, in the order reports list them within a severity.
KINDS: Mapping[FindingKind, KindInfo] = {
    "locked": KindInfo("reachable", "critical", "locked now"),
    "unreadable": KindInfo("reachable", "high", "could not be read"),
    "default_password": KindInfo("passwords", "critical", "factory password"),
    "weak_password": KindInfo("passwords", "high", "weak password"),
    "store_outdated": KindInfo("passwords", "medium", "credential store out of date"),
    "unknown_account": KindInfo("accounts", "medium", "account not in the inventory"),
    "firmware_behind": KindInfo("firmware", "medium", "firmware behind the declared version"),
    "firmware_always_locks": KindInfo("firmware", "low", "firmware that always locks"),
    "lock_disabled": KindInfo("lock_policy", "high", "lock policy off"),
    "lock_policy_differs": KindInfo("lock_policy", "low", "lock policy differs"),
    "channel_refused": KindInfo("channels", "high", "channel refused by its camera"),
    "drift": KindInfo("drift", "medium", "differs from the declared state"),
    "stale_holder": KindInfo("drift", "medium", "holder goes stale on the pending change"),
    "left_isolated": KindInfo("drift", "high", "left isolated by an earlier run"),
    "stale_client": KindInfo("security_log", "high", "a client fails with an old password"),
    "stale_channel": KindInfo("security_log", "high", "a recorder's channel fails with an old password"),
    "unknown_source": KindInfo("security_log", "high", "failed logins from an unknown source"),
    "own_failures": KindInfo("security_log", "info", "failed logins by enforcer"),
    "capability_gap": KindInfo("security_log", "info", "the firmware lacks a capability"),
}

#: Which checks apply to a device of a role (channels are a recorder's).
ROLE_CHECKS: Mapping[str, tuple[Check, ...]] = {
    "recorder": CHECKS,
    "camera": tuple(c for c in CHECKS if c != "channels"),
}


@dataclass(frozen=True)
class Finding:
    """One thing wrong (or worth knowing) on one device.

    ``device`` is the device's name within ``site``; ``evidence`` holds no secret value, ever: passwords
    are named by account and role, never shown."""

    kind: FindingKind
    site: str
    device: str
    what: str
    why: str
    fix: str
    evidence: Evidence = ()

    @property
    def severity(self) -> Severity:
        return KINDS[self.kind].severity

    @property
    def check(self) -> Check:
        return KINDS[self.kind].check

    @property
    def title(self) -> str:
        return KINDS[self.kind].title

    @property
    def counts(self) -> bool:
        """Whether it makes its device non-compliant (anything but ``info``)."""
        return self.severity != "info"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "check": self.check,
            "severity": self.severity,
            "title": self.title,
            "site": self.site,
            "device": self.device,
            "what": self.what,
            "why": self.why,
            "fix": self.fix,
            "evidence": dict(self.evidence),
        }


def rank(finding: Finding) -> tuple[int, int, str, str]:
    """Sort key: most severe first, then kind order, then device and text."""
    kinds = list(KINDS)
    return SEVERITIES.index(finding.severity), kinds.index(finding.kind), finding.device, finding.what
