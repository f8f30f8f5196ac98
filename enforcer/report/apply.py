"""The console side of apply: a line per finished step, a progress bar, the recap and the checklist.

A subscriber of the executor's events, as the journal is; it holds no state that apply depends on.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from enforcer.engine.executor import (
    Event,
    SiteFinished,
    SitePlanned,
    SiteResult,
    SiteWaiting,
    StepFinished,
    Waiting,
)
from enforcer.plan.artifact import Step
from enforcer.plan.steps import Checklist, Settle, Verify
from enforcer.report.plan import change_lines, print_site

_STATUS = {
    "converged": "[green]converged[/]",
    "unchanged": "[green]ok[/]",
    "failed": "[bold red]failed[/]",
    "skipped": "[yellow]skipped[/]",
}


class ApplyDisplay:
    """Prints each finished step and keeps a progress bar over all steps (on a terminal)."""

    def __init__(self, console: Console, total_steps: int, *, diff: bool = False) -> None:
        """``diff``: under each step that changed something, its changes (masked), as Ansible's ``--diff``."""
        self.console, self.diff = console, diff
        self.progress = Progress(
            TextColumn("[bold]applying[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self.total = total_steps
        self.task = self.progress.add_task("", total=total_steps)
        self._lock = threading.Lock()
        self._waits: dict[str, str] = {}  # what is being waited for, with its time left (by step or site)

    def __enter__(self) -> ApplyDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, StepFinished):
                self._stop_countdown(event.step.id)
                self.progress.advance(self.task)
                mark = {"succeeded": "[green]✓[/]", "failed": "[bold red]✗[/]", "skipped": "[dim]-[/]"}[event.status]
                line = f"{mark} {escape(event.step.site)} · {_what(event.step)}: {escape(event.detail)}"
                self.progress.console.print(line, highlight=False, soft_wrap=True)
                if self.diff and event.changed:
                    for change in change_lines(event.step):
                        self.progress.console.print(f"    {change}", highlight=False, soft_wrap=True)
            elif isinstance(event, Waiting):
                settling = isinstance(event.step.kind, Settle)
                why = "lets logins with old passwords end" if settling else "is locked"
                where = f"{escape(event.step.site)} · {escape(_short(event.step.target))}"
                self._countdown(event.step.id, event.seconds, event.left, f"{where} {why}")
            elif isinstance(event, SiteWaiting):
                self._countdown(
                    event.site,
                    event.seconds,
                    event.left,
                    f"{escape(event.site)} · {escape(', '.join(map(_short, event.devices)))} locked enforcer out",
                )
            elif isinstance(event, SitePlanned):
                self._stop_countdown(event.plan.site)
                self.total += len(event.plan.steps)
                self.progress.update(self.task, total=self.total)
                self.progress.console.print(
                    f"[cyan]⧗[/] {escape(event.plan.site)} read again after its wait and planned:", highlight=False
                )
                print_site(self.progress.console, event.plan)
            elif isinstance(event, SiteFinished) and event.status == "failed":
                self.progress.console.print(
                    f"[bold red]✗ site {escape(event.site)} failed:[/] {escape(event.detail)}", soft_wrap=True
                )

    def _countdown(self, key: str, seconds: float, left: float, what: str) -> None:
        """A countdown beside the progress bar on a terminal; one line when the wait begins (off one too)."""
        if key not in self._waits:
            self.progress.console.print(
                f"[cyan]⧗[/] {what}: waiting {seconds:.1f} s (other sites go on)", highlight=False, soft_wrap=True
            )
        self._waits[key] = f"{what}: {left:.0f} s"
        self._show_waits()

    def _stop_countdown(self, key: str) -> None:
        if self._waits.pop(key, None) is not None:
            self._show_waits()

    def _show_waits(self) -> None:
        waits = " · ".join(self._waits.values())
        self.progress.update(self.task, description=f"[cyan]⧗ {waits}[/]" if waits else "")


def _short(device_id: str) -> str:
    return device_id.split("/", 1)[-1]


def _what(step: Step) -> str:
    target = escape(step.target.split("/", 1)[-1])
    label = step.action.replace("_", " ")
    return "verify" if isinstance(step.kind, Verify) else f"{target} {label}"


#: Ansible's recap columns, in its order.
RECAP = ("ok", "changed", "unreachable", "failed", "skipped")


def recap_counts(result: SiteResult) -> dict[str, int]:
    """A site's steps counted as Ansible counts tasks: ok (nothing to change), changed, unreachable
    (devices that did not answer), failed, skipped (done by an interrupted run)."""
    counts = dict.fromkeys(RECAP, 0)
    for outcome in result.steps:
        if outcome.status == "succeeded":
            counts["changed" if outcome.changed else "ok"] += 1
        else:
            counts[outcome.status] += 1
    counts["unreachable"] = result.unreachable
    return counts


def print_recap(console: Console, results: list[SiteResult], checklist: list[Step]) -> None:
    """Ansible's PLAY RECAP, per site, then the manual checklist."""
    console.rule("[bold]recap[/]")
    width = max((len(r.site) for r in results), default=4)
    for r in results:
        counts = recap_counts(r)
        columns = " ".join(f"{name}={counts[name]}" for name in RECAP)
        console.print(
            f"{escape(r.site):<{width}} : {_STATUS[r.status]:<20} {columns}"
            + (f"  [dim]{escape(r.detail)}[/]" if r.detail and r.status != "converged" else ""),
            highlight=False,
            soft_wrap=True,
        )
    if checklist:
        console.rule("[bold magenta]checklist: update these clients by hand[/]")
        for step in checklist:
            kind = step.kind
            assert isinstance(kind, Checklist)
            holds = ", ".join(f"{h.device} as {h.user}" for h in kind.holds)
            where = f" at {kind.address}" if kind.address else ""
            contact = f"; contact: {kind.contact}" if kind.contact else ""
            what = escape(kind.what or step.target)
            console.print(
                f"☐ {escape(step.site)} · {what}{escape(where)}: enter the new password "
                f"for {escape(holds)}{escape(contact)}. It stays blocked at the device until then.",
                highlight=False,
                soft_wrap=True,
            )


def apply_view(results: list[SiteResult], checklist: list[Step]) -> dict[str, Any]:
    """What ``apply --json`` prints: every site with its recap counts and each step, then the checklist."""
    return {
        "sites": [
            {
                "site": r.site,
                "status": r.status,
                "detail": r.detail,
                "counts": recap_counts(r),
                "steps": [
                    {
                        "id": s.step.id,
                        "phase": s.step.phase,
                        "action": s.step.action,
                        "target": s.step.target,
                        "status": s.status,
                        "changed": s.changed,
                        "detail": s.detail,
                    }
                    for s in r.steps
                ],
            }
            for r in results
        ],
        "checklist": [_checklist_view(step) for step in checklist],
    }


def _checklist_view(step: Step) -> dict[str, Any]:
    kind = step.kind
    assert isinstance(kind, Checklist)
    return {
        "site": step.site,
        "client": step.target.split("/", 1)[-1],
        "what": kind.what,
        "address": kind.address,
        "contact": kind.contact,
        "holds": [{"device": h.device, "user": h.user} for h in kind.holds],
    }
