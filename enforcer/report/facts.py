"""Rendering gathered facts: a table per site for people, a JSON document for machines.

Facts hold no secret (the working credential is named by its role), so nothing here can leak one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape

from enforcer.drivers.client import ClientFacts
from enforcer.engine.gather import Gathered
from enforcer.facts import DeviceFacts
from enforcer.model import Device
from enforcer.report.table import RowTable


@dataclass(frozen=True)
class PlayFacts:
    """One play's devices and what gathering them came to."""

    name: str
    devices: tuple[Device, ...]
    gathered: Gathered
    clients: Mapping[str, ClientFacts] = field(default_factory=dict)  # what each client with an API stores


def facts_view(plays: Sequence[PlayFacts]) -> dict[str, Any]:
    """The ``--json`` document: facts by device and failures, per play."""
    return {
        "ok": all(not p.gathered.failures and not p.gathered.client_failures for p in plays),
        "plays": [
            {
                "name": p.name,
                "facts": {device_id: f.to_dict() for device_id, f in p.gathered.facts.items()},
                "failures": [
                    {"site": x.site, "device": x.device, "step": x.step, "reason": x.reason}
                    for x in p.gathered.failures
                ],
                "clients": {client_id: asdict(f) for client_id, f in p.clients.items()},
                "client_failures": dict(p.gathered.client_failures),
            }
            for p in plays
        ],
    }


def _login(f: DeviceFacts) -> str:
    if f.login is None:
        return "?"
    spent = f" [yellow]+{f.login.attempts_spent} failed[/]" if f.login.attempts_spent else ""
    style = "green" if f.login.candidate == "current" else "yellow"
    return f"[{style}]{f.login.candidate}[/]{spent}"


def _password(f: DeviceFacts) -> str:
    if f.login is None or (f.login.is_default is None and f.login.is_risk is None):
        return "[dim]?[/]"
    if f.login.is_default:
        return "[bold red]default[/]"
    if f.login.is_risk:
        return "[red]weak[/]"
    return "[green]ok[/]"


def _policy(f: DeviceFacts) -> str:
    p = f.lock_policy
    if p is None:
        return "[dim]not supported[/]" if f.gap("lock_policy") else "[dim]?[/]"
    if not p.enabled:
        return "[red]off[/]"
    attempts = p.max_attempts if p.max_attempts is not None else "?"
    if p.lock_seconds is None:
        duration = "?"
    elif p.lock_seconds % 60 == 0:
        duration = f"{p.lock_seconds // 60}m"
    else:
        duration = f"{p.lock_seconds}s"
    return f"{attempts}×{duration}"


def _lock(f: DeviceFacts) -> str:
    if f.lock.locked:
        return f"[bold red]locked {f.lock.unlock_seconds:.0f} s[/]"
    return "[green]open[/]"


def _channels(f: DeviceFacts, device: Device) -> str:
    if device.role != "recorder":
        return "[dim]–[/]"
    if f.gap("channels"):
        return "[dim]not supported[/]"
    if f.gap("channel_status"):
        return f"{len(f.channels)} [dim](no status)[/]"
    online = sum(1 for c in f.channels if c.online)
    offline = [c for c in f.channels if not c.online]
    text = f"{online}/{len(f.channels)} up"
    if offline:
        causes = sorted({c.detect for c in offline})
        text += f" [yellow]({', '.join(causes)})[/]"
    return text


_COLUMNS = (
    ("device", 10),
    ("model", 8),
    ("firmware", 8),
    ("login", 8),
    ("pw", 7),
    ("lock policy", 7),
    ("lock", 4),
    ("channels", 8),
)


def print_facts(console: Console, plays: Sequence[PlayFacts]) -> None:
    """A table per site, then every failure with its site, device and reason."""
    for play in plays:
        sites: dict[str, list[Device]] = {}
        for device in play.devices:
            sites.setdefault(device.site, []).append(device)
        for site, devices in sites.items():
            table = RowTable(f"{escape(play.name)} · {escape(site)}", _COLUMNS)
            for device in devices:
                f = play.gathered.facts.get(device.id)
                if f is None:
                    table.add_row(escape(device.name), escape(device.model), "", "[bold red]failed[/]", "", "", "", "")
                    continue
                table.add_row(
                    escape(device.name),
                    escape(f.model),
                    escape(f.firmware_version),
                    _login(f),
                    _password(f),
                    _policy(f),
                    _lock(f),
                    _channels(f, device),
                )
            console.print(table)
    for play in plays:
        _print_clients(console, play)
    failures = [x for p in plays for x in p.gathered.failures]
    if failures:
        console.print(f"[bold red]{len(failures)} device{'s' * (len(failures) != 1)} failed:[/]")
        for x in failures:
            console.print(f"  [bold]{escape(x.site)}/{escape(x.device)}[/]: {escape(x.step)}: {escape(x.reason)}")


def _print_clients(console: Console, play: PlayFacts) -> None:
    """Each client with an API: what it stores, as whom, whether it uses it and whether that works."""
    if not play.clients and not play.gathered.client_failures:
        return
    console.print(f"[bold]{escape(play.name)} · clients[/]")
    for client_id, f in play.clients.items():
        console.print(f"  [bold]{escape(client_id)}[/]: {escape(f.detail)}")
        for path in f.stored:
            used = {True: "enabled", False: "[yellow]disabled[/]", None: "[dim]?[/]"}[path.enabled]
            works = {True: "[green]connected[/]", False: "[red]not connected[/]", None: "[dim]connection ?[/]"}
            console.print(f"    {escape(path.address)} as {escape(path.user or '?')}: {used}, {works[path.online]}")
    for client_id, reason in play.gathered.client_failures.items():
        console.print(f"  [bold red]✗ {escape(client_id)}[/]: {escape(reason)}")


def summary(plays: Sequence[PlayFacts]) -> str:
    total = sum(len(p.devices) for p in plays)
    failed = sum(len(p.gathered.failures) for p in plays)
    clients = sum(len(p.gathered.client_failures) for p in plays)
    return (
        f"facts for {total - failed} of {total} device{'s' * (total != 1)}"
        + (f", {failed} failed" if failed else "")
        + (f"; {clients} client{'s' * (clients != 1)} could not be read" if clients else "")
    )
