"""The audit as one JSON document, the machine view every other report agrees with.

Its shape is ``enforcer/schemas/report.schema.json`` (tests validate every document against it); bump
:data:`VERSION` with any change a reader would notice. Times are UTC, ISO 8601 with ``Z``. No secret value
can be in it: findings name accounts and password *roles*, never passwords.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from enforcer.audit import KINDS, AuditReport, DeviceAudit, SiteAudit
from enforcer.audit.forensics import Activity
from enforcer.audit.result import ChecklistItem

VERSION = 1
SCHEMA = "https://enforcer.dev/schemas/report.schema.json"


def stamp(t: float) -> str:
    """UTC ISO 8601, seconds, with ``Z``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def audit_document(report: AuditReport) -> dict[str, Any]:
    """The ``--json`` document (and ``enforce audit --json`` on stdout)."""
    return {
        "$schema": SCHEMA,
        "version": VERSION,
        "playbook": report.playbook,
        "generated": stamp(report.generated),
        "since": stamp(report.since),
        "compliant": report.compliant,
        "complete": not report.unread,
        "summary": {
            "sites": len(report.sites),
            "compliant_sites": sum(1 for s in report.sites if s.compliant),
            "devices": len(report.devices),
            "status": report.by_status(),
            "severity": report.by_severity(),
            "kinds": report.by_kind(),
        },
        "kinds": {k: {"check": i.check, "severity": i.severity, "title": i.title} for k, i in KINDS.items()},
        "plays": [{"name": p.name, "sites": [_site(s) for s in p.sites]} for p in report.plays],
    }


def _site(site: SiteAudit) -> dict[str, Any]:
    return {
        "site": site.site,
        "compliant": site.compliant,
        "devices": [_device(d) for d in site.devices],
        "findings": [f.to_dict() for f in site.findings],
        "forensics": [_activity(a) for a in site.forensics],
        "checklist": [_item(i) for i in site.checklist],
        "plan_error": site.plan_error,
    }


def _device(d: DeviceAudit) -> dict[str, Any]:
    log = d.log
    return {
        "id": d.id,
        "name": d.name,
        "role": d.role,
        "vendor": d.vendor,
        "model": d.model,
        "address": d.address,
        "firmware": d.firmware,
        "declared_firmware": d.declared_firmware,
        "status": d.status,
        "reason": d.reason,
        "log": None
        if log is None
        else {
            "records": log.records,
            "failures": log.failures,
            "locks": log.locks,
            "sources": log.sources,
            "gap": log.gap,
            "truncated": log.truncated,
        },
    }


def _activity(a: Activity) -> dict[str, Any]:
    c = a.culprit
    return {
        "device": a.device,
        "source": a.source,
        "culprit": {"kind": c.kind, "name": c.name, "what": c.what, "stale": list(c.stale), "manual": c.manual},
        "failures": a.failures,
        "locks": a.locks,
        "users": list(a.users),
        "first": stamp(a.first),
        "last": stamp(a.last),
        "locked_now": a.locked_now,
        "daily": list(a.daily),
    }


def _item(i: ChecklistItem) -> dict[str, Any]:
    return {
        "client": i.client,
        "what": i.what,
        "contact": i.contact,
        "address": i.address,
        "holds": list(i.holds),
        "why": i.why,
    }
