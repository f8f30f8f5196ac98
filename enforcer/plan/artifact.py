"""The plan: ordered steps per site with the fingerprints of the facts they were computed from.

A plan is a serialisable artifact (``enforce plan -o plan.json``) holding no secret value: steps
name accounts, never passwords, and ``apply`` takes the passwords from the desired state it loads
again. It records the fingerprint of every device's facts, so ``apply plan.json`` can refuse a
plan whose devices changed since (Terraform's "Saved plan is stale").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from enforcer.plan.diff import Change
from enforcer.plan.steps import StepKind, kind_from_dict

PLAN_VERSION = 1

Phase = Literal["isolate", "wait", "recorder", "cameras", "channels", "clients", "release", "verify"]
PHASES: tuple[Phase, ...] = ("isolate", "wait", "recorder", "cameras", "channels", "clients", "release", "verify")


@dataclass(frozen=True)
class Step:
    """One idempotent action (its :mod:`kind <enforcer.plan.steps>`) on one device or client, in one
    phase of one site."""

    site: str
    phase: Phase
    target: str  # site/name of the device or client; the site's name for verify
    kind: StepKind
    changes: tuple[Change, ...] = ()
    reason: str = ""

    @property
    def action(self) -> str:
        return self.kind.action

    @property
    def params(self) -> dict[str, Any]:
        """The kind's arguments as the plan file holds them."""
        return self.kind.to_dict()

    @property
    def id(self) -> str:
        """A stable address, the same in every plan of the same change: ``site/dev:account:admin``."""
        suffix = self.kind.suffix
        return f"{self.target}:{self.action}" + (f":{suffix}" if suffix else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "site": self.site,
            "phase": self.phase,
            "action": self.action,
            "target": self.target,
            "params": self.params,
            "changes": [c.to_dict() for c in self.changes],
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Step:
        return cls(
            site=raw["site"],
            phase=raw["phase"],
            target=raw["target"],
            kind=kind_from_dict(raw["action"], raw["params"]),
            changes=tuple(Change.from_dict(c) for c in raw["changes"]),
            reason=raw["reason"],
        )


@dataclass(frozen=True)
class SitePlan:
    """Everything planned for one site; ``error`` means the site cannot be planned (it fails alone)."""

    site: str
    steps: tuple[Step, ...] = ()
    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    unreachable: tuple[str, ...] = ()  # devices whose facts failed for want of a reply
    #: Devices that have locked enforcer out, so the site could not be read: apply waits ``wait`` seconds
    #: inside the run (other sites go on), then reads the site again and plans it.
    locked_out: tuple[str, ...] = ()
    wait: float = 0.0

    @property
    def pending(self) -> tuple[Change, ...]:
        """Changes apply will make (blocked ones are reported, not attempted)."""
        return tuple(c for c in self.changes if c.action != "blocked")

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "steps": [s.to_dict() for s in self.steps],
            "changes": [c.to_dict() for c in self.changes],
            "warnings": list(self.warnings),
            "error": self.error,
            "unreachable": list(self.unreachable),
            "locked_out": list(self.locked_out),
            "wait": self.wait,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SitePlan:
        return cls(
            site=raw["site"],
            steps=tuple(Step.from_dict(s) for s in raw["steps"]),
            changes=tuple(Change.from_dict(c) for c in raw["changes"]),
            warnings=tuple(raw["warnings"]),
            error=raw["error"],
            unreachable=tuple(raw.get("unreachable", ())),
            locked_out=tuple(raw.get("locked_out", ())),
            wait=float(raw.get("wait", 0.0)),
        )


@dataclass(frozen=True)
class Plan:
    """The plan of one play: its sites, and the facts fingerprints it rests on."""

    playbook: str
    play: str
    limit: tuple[str, ...]
    sites: tuple[SitePlan, ...]
    fingerprints: dict[str, str]
    version: int = PLAN_VERSION

    @property
    def has_changes(self) -> bool:
        return any(s.pending for s in self.sites)

    @property
    def failed(self) -> tuple[SitePlan, ...]:
        return tuple(s for s in self.sites if s.error)

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "playbook": self.playbook,
                "play": self.play,
                "limit": list(self.limit),
                "fingerprints": self.fingerprints,
                "sites": [s.to_dict() for s in self.sites],
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Plan:
        raw = json.loads(text)
        if raw.get("version") != PLAN_VERSION:
            raise ValueError(f"plan file version {raw.get('version')!r} is not {PLAN_VERSION}: plan again")
        return cls(
            playbook=raw["playbook"],
            play=raw["play"],
            limit=tuple(raw["limit"]),
            sites=tuple(SitePlan.from_dict(s) for s in raw["sites"]),
            fingerprints=raw["fingerprints"],
        )


def save_plans(plans: list[Plan]) -> str:
    """A plan file: the plans of every play of one playbook run."""
    return json.dumps({"version": PLAN_VERSION, "plans": [json.loads(p.to_json()) for p in plans]}, indent=2) + "\n"


def load_plans(text: str) -> list[Plan]:
    """Read a plan file written by :func:`save_plans`; ValueError when it is not one."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a plan file: {exc}") from None
    if not isinstance(raw, dict) or raw.get("version") != PLAN_VERSION or "plans" not in raw:
        raise ValueError("not a plan file of this version of enforce: run enforce plan -o again")
    return [Plan.from_json(json.dumps(p)) for p in raw["plans"]]
