"""The plan as a person reads it: a masked diff grouped by site and phase, then a summary line.

Display choices never change what apply does; everything shown here comes from the plan artifact,
which holds no secret value, so nothing shown here can leak one.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape

from enforcer.plan.artifact import PHASES, Plan, SitePlan, Step
from enforcer.plan.diff import SENSITIVE, Change
from enforcer.plan.steps import (
    ENFORCER,
    AccountKind,
    ChannelKind,
    Checklist,
    IsolateClient,
    IsolateFilter,
    ReleaseClient,
    ReleaseFilter,
    Settle,
    UpdateClient,
    WaitUnlock,
)

_SYMBOL = {"create": "[green]+[/]", "update": "[yellow]~[/]", "delete": "[red]-[/]", "blocked": "[red]![/]"}
_PHASE_TITLE = {
    "isolate": "isolate stale credential paths",
    "wait": "wait for locks to clear",
    "recorder": "recorders",
    "cameras": "cameras",
    "channels": "recorder channel credentials",
    "clients": "clients",
    "release": "release isolation",
    "verify": "verify",
}


def print_plan(console: Console, plan: Plan) -> None:
    """Per site: its steps by phase with each change, then warnings and errors; a summary line last."""
    for site in plan.sites:
        print_site(console, site)
    console.print()
    console.print(summary(plan))


def print_site(console: Console, site: SitePlan) -> None:
    """One site's plan (nothing for a site with nothing to say)."""
    if not site.steps and not site.changes and not site.error and not site.warnings and not site.wait:
        return
    console.print(f"\n[bold]site {escape(site.site)}[/]")
    if site.error:
        console.print(f"  [bold red]✗ cannot plan:[/] {escape(site.error)}")
    if site.wait:
        console.print(
            f"  [cyan]⧗ {escape(', '.join(_short(d) for d in site.locked_out))} locked enforcer out for "
            f"{site.wait:.0f} s:[/] the site is read and planned after that wait, while the other sites go on"
        )
    for phase in PHASES:
        steps = [s for s in site.steps if s.phase == phase]
        if steps:
            console.print(f"  [cyan]{_PHASE_TITLE[phase]}[/]")
            for step in steps:
                _print_step(console, step)
    for change in (c for c in site.changes if c.action == "blocked"):
        console.print(f"    {_SYMBOL['blocked']} {escape(_short(change.device))} {change.key}: {escape(change.reason)}")
    for warning in site.warnings:
        console.print(f"  [yellow]warning:[/] {escape(warning)}")


def _print_step(console: Console, step: Step) -> None:
    target = escape(_short(step.target))
    head = f"    [bold]{target}[/] {_describe(step)}"
    console.print(head + (f" [dim]({escape(step.reason)})[/]" if step.reason else ""))
    for change in step.changes:
        console.print(f"      {_SYMBOL[change.action]} {change.key}: {_value_change(change)}")


def _describe(step: Step) -> str:
    kind = step.kind
    if isinstance(kind, IsolateFilter):
        return "IP filter → allow only " + ", ".join("enforcer" if a == ENFORCER else a for a in kind.allow)
    if isinstance(kind, ReleaseFilter):
        keep = kind.keep_blocked
        return "restore the IP filter" + (f", keep {', '.join(keep)} out" if keep else "")
    if isinstance(kind, WaitUnlock):
        return f"wait {kind.seconds:.0f} s for the lock to clear"
    if isinstance(kind, Settle):
        while_ = "before its devices change" if step.phase == "isolate" else "still kept out of its devices"
        return f"wait {kind.seconds:g} s, {while_}"
    if isinstance(kind, AccountKind):
        return f"account {kind.account}" + ("" if kind.present else " (remove)")
    if isinstance(kind, ChannelKind):
        return f"channel {kind.channel} → {_short(kind.camera)} as {kind.user}"
    if isinstance(kind, Checklist):
        holds = ", ".join(f"{h.device} as {h.user}" for h in kind.holds)
        return f"[magenta]checklist[/]: update {escape(kind.what or 'this client')} by hand ({holds})"
    if isinstance(kind, UpdateClient):
        return "store the new passwords: " + ", ".join(f"{h.device} as {h.user}" for h in kind.holds)
    if isinstance(kind, IsolateClient):
        return "take it off " + ", ".join(f"{h.device} as {h.user}" for h in kind.holds)
    if isinstance(kind, ReleaseClient):
        return "put it back on its devices, exactly as it was"
    return step.action.replace("_", " ")


def change_lines(step: Step) -> list[str]:
    """A step's changes, one masked line each (``~ accounts.admin.password: (sensitive, changed)``)."""
    return [f"{_SYMBOL[c.action]} {escape(c.key)}: {_value_change(c)}" for c in step.changes]


def _value_change(change: Change) -> str:
    if change.sensitive and (change.kind == "account" or change.before == change.after):
        return "(sensitive, new)" if change.action == "create" else "(sensitive, changed)"
    if change.action == "create":
        return f"{_show(change.after)}"
    if change.action == "delete":
        return f"{_show(change.before)} → (absent)"
    extra = f" [dim]({escape(change.reason)})[/]" if change.reason else ""
    return f"{_show(change.before)} → {_show(change.after)}{extra}"


def _show(value: Any) -> str:
    if value == SENSITIVE:
        return "(sensitive)"
    return escape(str(value)) if value is not None else "(unknown)"


def _short(device_id: str) -> str:
    return device_id.split("/", 1)[-1]


def summary(plan: Plan) -> str:
    """``Plan: 3 sites to change, 1 failed; 12 changes (4 firmware, ...), 2 blocked.`` like Terraform's line."""
    changing = [s for s in plan.sites if s.pending]
    counts = Counter(c.kind for s in plan.sites for c in s.pending)
    blocked = sum(1 for s in plan.sites for c in s.changes if c.action == "blocked")
    checklist = sum(1 for s in plan.sites for st in s.steps if isinstance(st.kind, Checklist))
    waiting = sum(1 for s in plan.sites if s.wait)
    if not changing and not plan.failed and not blocked and not waiting:
        return "[bold green]No changes.[/] Every selected site matches its declared state."
    parts = [f"[bold]Plan:[/] {len(changing)} of {len(plan.sites)} sites to change"]
    if counts:
        kinds = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items()))
        parts.append(f"{sum(counts.values())} changes ({kinds})")
    if checklist:
        parts.append(f"{checklist} manual client{'s' * (checklist != 1)} on the checklist")
    if blocked:
        parts.append(f"[red]{blocked} blocked[/]")
    if waiting:
        parts.append(f"[cyan]{waiting} site{'s' * (waiting != 1)} planned after a lock wait[/]")
    if plan.failed:
        parts.append(f"[bold red]{len(plan.failed)} site{'s' * (len(plan.failed) != 1)} cannot be planned[/]")
    return "; ".join(parts) + "."


def plan_view(plan: Plan) -> dict[str, Any]:
    """The plan as JSON for ``--json`` (the same document ``-o`` saves)."""
    data: dict[str, Any] = json.loads(plan.to_json())
    data["summary"] = {
        "sites_changing": sum(1 for s in plan.sites if s.pending),
        "changes": sum(len(s.pending) for s in plan.sites),
        "blocked": sum(1 for s in plan.sites for c in s.changes if c.action == "blocked"),
        "failed_sites": [s.site for s in plan.failed],
    }
    return data
