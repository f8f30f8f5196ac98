"""The audit on a terminal: a table per site, its findings, who fails logins, the checklist, a verdict."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from enforcer.audit import AuditReport, SiteAudit

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "blue", "info": "dim"}
STATUS_STYLE = {"compliant": "green", "noncompliant": "red", "locked": "bold red", "unread": "magenta"}


def print_audit(console: Console, report: AuditReport) -> None:
    for play in report.plays:
        for site in play.sites:
            _site(console, f"{play.name} · {site.site}", site, report.since)
    console.print(verdict(report))


def _site(console: Console, title: str, site: SiteAudit, since: float) -> None:
    mark = "[green]compliant[/]" if site.compliant else "[red]not compliant[/]"
    table = Table(title=f"{escape(title)}: {mark}", title_justify="left", expand=False)
    for column in ("device", "model", "firmware", "status", "findings", "log"):
        table.add_column(column, overflow="fold")
    for d in site.devices:
        counted = [f for f in site.of(d.name) if f.counts]
        worst = counted[0].severity if counted else ""
        findings = f"[{SEVERITY_STYLE[worst]}]{len(counted)} ({worst})[/]" if counted else "[green]–[/]"
        if d.log is None:
            log = "[dim]–[/]"
        elif d.log.gap:
            log = "[dim]none[/]"
        else:
            log = f"{d.log.locks} locks" if d.log.records == "locks" else f"{d.log.failures} failed"
        table.add_row(
            escape(d.name),
            escape(d.model),
            escape(d.firmware or "–"),
            f"[{STATUS_STYLE[d.status]}]{d.status}[/]",
            findings,
            log,
        )
    console.print(table)
    for f in site.findings:
        style = SEVERITY_STYLE[f.severity]
        console.print(f"  [{style}]{f.severity:>8}[/] [bold]{escape(f.device)}[/] {escape(f.title)}: {escape(f.what)}")
        console.print(f"           [dim]why:[/] {escape(f.why)}")
        console.print(f"           [dim]fix:[/] {escape(f.fix)}")
    if site.forensics:
        console.print("  [bold]who fails logins[/]")
        for a in site.forensics:
            console.print(f"    {escape(a.sentence(since))}")
            for path in a.culprit.stale:
                console.print(f"      [dim]stale:[/] {escape(path)}")
    if site.checklist:
        console.print("  [bold]checklist[/] (update by hand)")
        for item in site.checklist:
            where = f" at {item.address}" if item.address else ""
            who = f", ask {item.contact}" if item.contact else ""
            text = f"{item.client}: {item.what}{where} ({', '.join(item.holds)}){who}"
            console.print(f"    ☐ {escape(text)}")
            console.print(f"      [dim]{escape(item.why)}[/]")


def verdict(report: AuditReport) -> str:
    """The last line: compliant or not, and the counts."""
    sites = report.sites
    ok = sum(1 for s in sites if s.compliant)
    counted = [f for f in report.findings if f.counts]
    severity = ", ".join(f"{n} {s}" for s, n in report.by_severity().items() if n and s != "info")
    text = f"Audit: {ok} of {len(sites)} site{'s' * (len(sites) != 1)} compliant; "
    text += f"{len(counted)} finding{'s' * (len(counted) != 1)}" + (f" ({severity})" if severity else "")
    if report.unread:
        names = ", ".join(d.id for d in report.unread[:5]) + (" …" if len(report.unread) > 5 else "")
        text += f"; [magenta]incomplete: {escape(names)} not read[/]"
    return ("[bold green]✓[/] " if report.compliant and not report.unread else "[bold red]✗[/] ") + text
