"""The dry-run audit, pure: desired state, facts and security logs in; findings, forensics and a checklist out.

:mod:`.findings` is the closed set of finding kinds (each with its check and severity); :mod:`.checks` reads
a device's facts and the planner's diff as findings; :mod:`.forensics` groups failed logins by source and
names each source; :mod:`.firmware` is the table of firmware that always locks; :mod:`.site` assembles a
site's audit; :mod:`.result` is what reports render. The engine gathers (``enforcer.engine.audit``), the
command line renders (``enforce audit``).
"""

from enforcer.audit.findings import CHECKS, KINDS, SEVERITIES, Check, Finding, FindingKind, Severity
from enforcer.audit.forensics import Activity, Culprit, attribute, trace
from enforcer.audit.result import (
    AuditReport,
    ChecklistItem,
    DeviceAudit,
    LogSummary,
    PlayAudit,
    SiteAudit,
    Unread,
)
from enforcer.audit.site import audit_site

__all__ = [
    "CHECKS",
    "KINDS",
    "SEVERITIES",
    "Activity",
    "AuditReport",
    "Check",
    "ChecklistItem",
    "Culprit",
    "DeviceAudit",
    "Finding",
    "FindingKind",
    "LogSummary",
    "PlayAudit",
    "Severity",
    "SiteAudit",
    "Unread",
    "attribute",
    "audit_site",
    "trace",
]
