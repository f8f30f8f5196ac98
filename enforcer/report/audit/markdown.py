"""The audit in a few lines of Markdown, short enough for a pull-request comment.

The verdict, the counts, the most severe findings (at most :data:`TOP`), the culprits of failed logins and
the size of the checklist; the HTML report has the rest. Every name is escaped: a site called
``<img onerror=…>`` or ``**x**`` shows as written, since forges render some HTML inside Markdown.
"""

from __future__ import annotations

import re

from enforcer.audit import AuditReport
from enforcer.audit.findings import Finding, rank
from enforcer.report.audit.document import stamp

TOP = 10
ICONS = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵", "info": "⚪"}
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # never at a line's start here, so # + - . need nothing


def escape(text: str) -> str:
    """Text as Markdown shows it literally: HTML entities for ``& < >``, backslashes before the rest."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def audit_markdown(report: AuditReport, *, command: str = "") -> str:
    """The summary (a few hundred words at most, whatever the fleet's size)."""
    verdict = "✅ compliant" if report.compliant else "❌ not compliant"
    if report.unread:
        verdict += f" (incomplete: {len(report.unread)} device{'s' * (len(report.unread) != 1)} not read)"
    sites = report.sites
    status = report.by_status()
    lines = [
        f"### enforcer audit: {verdict}",
        "",
        f"**{sum(s.compliant for s in sites)} of {len(sites)} sites** compliant · **{len(report.devices)} devices**: "
        f"{status['compliant']} compliant, {status['noncompliant']} with findings, {status['locked']} locked, "
        f"{status['unread']} not read",
        "",
    ]
    severity = report.by_severity()
    if any(severity.values()):
        lines += ["| severity | findings |", "|---|---:|"]
        lines += [f"| {ICONS[s]} {s} | {n} |" for s, n in severity.items() if n]
        lines.append("")
    ranked = sorted((f for f in report.findings if f.counts), key=_rank)
    if ranked:
        lines.append(f"**Most severe** ({min(TOP, len(ranked))} of {len(ranked)}):")
        for f in ranked[:TOP]:
            where = f"`{_code(f.site)}/{_code(f.device)}`"
            lines.append(f"- {ICONS[f.severity]} {where} **{escape(f.title)}**: {escape(f.what)}")
        lines.append("")
    culprits = [(s.site, a) for s in sites for a in s.forensics if a.culprit.kind != "enforcer"]
    if culprits:
        lines.append("**Who fails logins:**")
        for site, a in culprits[:5]:
            lines.append(f"- `{_code(site)}`: {escape(a.sentence(report.since))}")
        if len(culprits) > 5:
            lines.append(f"- … and {len(culprits) - 5} more sources")
        lines.append("")
    checklist = sum(len(s.checklist) for s in sites)
    if checklist:
        lines += [f"**Checklist:** {checklist} client{'s' * (checklist != 1)} to update by hand.", ""]
    tail = f"`{_code(command)}` · " if command else ""
    lines.append(f"<sub>{tail}logs since {stamp(report.since)} · {stamp(report.generated)}</sub>")
    return "\n".join(lines) + "\n"


def _rank(f: Finding) -> tuple[int, str]:
    return rank(f)[0], f"{f.site}/{f.device}"


def _code(text: str) -> str:
    """Text inside a code span: no backtick can end it early, no HTML inside it."""
    return text.replace("`", "'").replace("<", "‹").replace(">", "›").replace("\n", " ")
