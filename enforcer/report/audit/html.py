"""The audit as one self-contained HTML page: summary, charts, a table per site, forensics, checklist.

One file that opens anywhere, offline: inline CSS, inline SVG charts (:mod:`.charts`), no script at all, and
a Content-Security-Policy that forbids scripts, fetching and frames, so a report mailed to a customer cannot
phone home and a hostile name cannot run. Every value reaches the page through jinja2's autoescaping (the
template is :file:`page.html.j2`); a site or device named ``<script>…`` is text on the page, never markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

from jinja2 import Environment, StrictUndefined

from enforcer.audit import KINDS, SEVERITIES, AuditReport, SiteAudit
from enforcer.audit.findings import ROLE_CHECKS, Finding
from enforcer.report.audit.charts import bars, spark, stack
from enforcer.report.audit.document import stamp

STATUS_CSS = {"compliant": "ok", "noncompliant": "bad", "locked": "critical", "unread": "unread"}
STATUS_TEXT = {"compliant": "compliant", "noncompliant": "findings", "locked": "locked", "unread": "not read"}


def _environment() -> Environment:
    env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["stamp"] = stamp
    return env


def audit_html(report: AuditReport, *, command: str = "") -> str:
    """The page, as text (UTF-8 when written)."""
    template = resources.files("enforcer.report.audit").joinpath("page.html.j2").read_text("utf-8")
    page = _environment().from_string(template)
    return page.render(**_context(report, command))


def _context(report: AuditReport, command: str) -> dict[str, Any]:
    status = report.by_status()
    severity = report.by_severity()
    kinds = report.by_kind()
    sites = report.sites
    return {
        "r": report,
        "command": command,
        "status_css": STATUS_CSS,
        "status_text": STATUS_TEXT,
        "severities": SEVERITIES,
        "kinds": KINDS,
        "devices_chart": stack([(STATUS_TEXT[s], n, STATUS_CSS[s]) for s, n in status.items()]),
        "severity_chart": bars([(s, n, s) for s, n in severity.items()]),
        "kind_chart": bars([(KINDS[k].title, n, KINDS[k].severity) for k, n in kinds.items()]),
        "site_chart": bars(_site_rows(sites)),
        "sites": [_site(s, report.since) for s in sites],
        "compliant_sites": sum(1 for s in sites if s.compliant),
        "checklist": sum(len(s.checklist) for s in sites),
    }


def _site_rows(sites: Sequence[SiteAudit]) -> list[tuple[str, int, str]]:
    """The sites with the most counted findings, worst first (at most 15: the tables have every site)."""
    counted = [(s.site, sum(1 for f in s.findings if f.counts)) for s in sites]
    worst = sorted((c for c in counted if c[1]), key=lambda c: (-c[1], c[0]))[:15]
    return [(name, n, "bad") for name, n in worst]


def _site(site: SiteAudit, since: float) -> dict[str, Any]:
    rows = []
    for device in site.devices:
        findings = site.of(device.name)
        checks = {c: _worst(site.failing(device.name, c)) for c in ROLE_CHECKS.get(device.role, ())}
        rows.append({"d": device, "checks": checks, "counted": sum(f.counts for f in findings)})
    return {
        "s": site,
        "rows": rows,
        "forensics": [{"a": a, "spark": spark(a.daily), "sentence": a.sentence(since)} for a in site.forensics],
    }


def _worst(findings: Sequence[Finding]) -> str:
    """The most severe severity among ``findings``, or "" when none counts."""
    return min((f.severity for f in findings), key=SEVERITIES.index, default="")
