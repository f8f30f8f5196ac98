"""``enforce facts PLAYBOOK``: what every selected device reports now (read-only).

The working credential of each device is found from the credential store (the inventory's
``credential_store``, default ``credentials.vault`` beside the inventory, opened with the vault
password) and the desired state, spending at most one attempt per candidate (DESIGN.md §4). Since
that spends login attempts, it holds the selected sites' locks as apply does (see :mod:`._locking`).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from enforcer.cli._common import EXIT_ERROR, EXIT_OK, add_playbook_arguments, load, print_json, report_problems
from enforcer.cli._locking import HOLDS, add_wait_argument, lock_message, sites_held
from enforcer.errors import CredentialStoreError, SiteLockError

if TYPE_CHECKING:
    from rich.console import Console

    from enforcer.engine.gather import Gathered
    from enforcer.engine.run import PlayRun
    from enforcer.facts import DeviceFacts
    from enforcer.model import Device, Playbook
    from enforcer.report.facts import PlayFacts


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    text = (
        "Gather facts from every selected device (model, firmware, login, lock policy, channels) and client with "
        "an API (what it stores, whether it uses it)."
    )
    sub = commands.add_parser("facts", help=text, description=f"{text} {HOLDS}")
    add_playbook_arguments(sub)
    sub.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per-request timeout (10)")
    add_wait_argument(sub)
    sub.set_defaults(run=run)


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    from rich.markup import escape

    from enforcer.report.console import print_diagnostics
    from enforcer.report.facts import facts_view, print_facts, summary

    playbook, diagnostics = load(args, err)
    if playbook is None:
        report_problems(args, diagnostics, err)
        return EXIT_ERROR
    if not args.json:
        print_diagnostics(err, diagnostics)
    try:
        with sites_held(args, playbook, err, "read"):
            results = _read(args, playbook, err)
    except SiteLockError as exc:
        err.print(f"[bold red]error:[/] {escape(lock_message(exc, args))}")
        return EXIT_ERROR
    if results is None:
        return EXIT_ERROR
    if args.json:
        print_json(facts_view(results))
    else:
        print_facts(out, results)
        out.print(summary(results))
    return EXIT_ERROR if any(r.gathered.failures or r.gathered.client_failures for r in results) else EXIT_OK


def _read(args: argparse.Namespace, playbook: Playbook, err: Console) -> list[PlayFacts] | None:
    """Every play's facts; None when a credential store cannot be opened (said on ``err``)."""
    from rich.markup import escape

    from enforcer.drivers.base import DriverOptions
    from enforcer.engine.gather import devices_of
    from enforcer.engine.run import PlayRun
    from enforcer.report.facts import PlayFacts

    options = DriverOptions(timeout=args.timeout)
    results: list[PlayFacts] = []
    for play in playbook.plays:
        try:
            session = PlayRun(play, options, play.concurrency)
        except CredentialStoreError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}; no device was touched")
            return None
        try:
            devices = devices_of(play)
            gathered = _gather(session, devices, args, err)
            results.append(PlayFacts(play.name, devices, gathered, dict(session.client_facts)))
        finally:
            session.close()
    return results


def _gather(session: PlayRun, devices: tuple[Device, ...], args: argparse.Namespace, err: Console) -> Gathered:
    if args.json or not err.is_terminal:
        return session.gather(devices)
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from enforcer.engine.gather import Failure

    columns = (
        TextColumn("facts"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("facts", total=len(devices), last="")

        def progress(device: Device, result: DeviceFacts | Failure, done: int, total: int) -> None:
            mark = "[red]✗[/]" if isinstance(result, Failure) else "[green]✓[/]"
            bar.update(task, completed=done, last=f"{mark} {escape(device.id)}")

        return session.gather(devices, progress=progress)
