"""The rich console: diagnostics and the desired state, readable at a glance."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.text import Text

from enforcer.config import limits

if TYPE_CHECKING:
    from rich.console import Console

    from enforcer.config.diagnostics import Diagnostic
    from enforcer.model import Playbook


def print_diagnostics(console: Console, diagnostics: Iterable[Diagnostic]) -> None:
    """One line a problem, ``file:line: key: message``, with its hint below.

    Plain text, never markup, and control characters shown as escapes: a file name, key or value
    quoted from a hostile file must not restyle the output or drive the terminal.
    """
    shown = list(diagnostics)
    for d in shown[: limits.MAX_DIAGNOSTICS_SHOWN]:
        style = "bold red" if d.severity == "error" else "yellow"
        where, summary = _printable(str(d.location)), _printable(d.summary)
        line = Text.assemble((f"{d.severity}: ", style), (where, "bold"), f": {summary}")
        console.print(line, highlight=False, soft_wrap=True)
        if d.hint:
            console.print(Text(f"  hint: {_printable(d.hint)}", style="dim"), highlight=False, soft_wrap=True)
    if len(shown) > limits.MAX_DIAGNOSTICS_SHOWN:
        console.print(f"… and {len(shown) - limits.MAX_DIAGNOSTICS_SHOWN:,} more (all of them with --json)")


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def summary(playbook: Playbook) -> str:
    """``2 sites, 7 devices (2 recorders, 5 cameras), 4 clients`` over every play."""
    sites = [s for p in playbook.plays for s in p.selected()]
    devices = [d for s in sites for d in s.devices]
    recorders = sum(1 for d in devices if d.role == "recorder")
    clients = sum(len(s.clients) for s in sites)
    return (
        f"{_count(len(playbook.plays), 'play')}, {_count(len(sites), 'site')}, {_count(len(devices), 'device')} "
        f"({_count(recorders, 'recorder')}, {_count(len(devices) - recorders, 'camera')}), {_count(clients, 'client')}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def print_inventory(console: Console, playbook: Playbook) -> None:
    """The resolved desired state per site: a device table and the clients that hold credentials."""
    from rich.table import Table  # here: printing diagnostics (every command) needs neither
    from rich.tree import Tree

    from enforcer.report.desired import playbook_view

    for play in playbook_view(playbook)["plays"]:
        name, organisation = escape(play["name"]), escape(play["organisation"])
        console.rule(f"[bold]{name}[/] · {organisation} · enforce {', '.join(play['enforce'])}")
        for site in play["sites"]:
            groups = f" [dim](groups: {escape(', '.join(site['groups']))})[/]" if site["groups"] else ""
            table = Table(title=f"[bold]{escape(site['name'])}[/]{groups}", title_justify="left", expand=False)
            for column in ("device", "model", "address", "firmware", "lock", "accounts"):
                table.add_column(column)
            for d in site["devices"]:
                name = escape(d["id"].split("/", 1)[1])
                if d["recorder"]:
                    name += f"\n[dim]→ {escape(d['recorder'])} ch{d['channel']}[/]"
                table.add_row(
                    name,
                    f"{escape(d['model'])}\n[dim]{d['vendor']}[/]",
                    f"{escape(d['address'])}:{d['port']}\n[dim]{d['scheme']}[/]",
                    escape(d["firmware"]["version"]) if d["firmware"] else "[dim]unmanaged[/]",
                    _lock(d["lock_policy"]),
                    "\n".join(_account(n, a) for n, a in d["accounts"].items()) or "[dim]none[/]",
                )
            console.print(table)
            if site["clients"]:
                tree = Tree("[bold]clients[/]")
                for c in site["clients"]:
                    holds = ", ".join(f"{h['device']} as {h['user']}" for h in c["holds"])
                    label = c.get("what") or c.get("url") or c.get("address") or ""
                    name = c["id"].split("/", 1)[1]
                    kind = f"{c['kind']}: {label}" if label else c["kind"]
                    tree.add(f"{escape(name)} [dim]({escape(kind)})[/] holds {escape(holds)}")
                console.print(tree)


def _lock(policy: dict[str, Any]) -> str:
    if not policy["enabled"]:
        return "[red]disabled[/]"
    return f"{policy['max_attempts']} tries / {policy['lock_minutes']} min"


def _account(name: str, account: dict[str, Any]) -> str:
    """``admin [dim]admin[/]``: name and level; the password is a reference, shown by --json."""
    if not account["present"]:
        return f"[strike]{escape(name)}[/] [dim]absent[/]"
    return f"{escape(name)} [dim]{_LEVELS[account['level']]}[/]"


_LEVELS = {"administrator": "admin", "operator": "oper", "viewer": "view"}
