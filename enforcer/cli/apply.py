"""``enforce plan`` and ``enforce apply``: the dry run is the plan; apply carries out exactly a plan.

Both hold the locks of the sites they select from before the first device is read to the end
(:mod:`._locking` says why a plan takes them too); the journal lives beside the inventory.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from enforcer.cli._backend import add_backend_arguments, executor, shared_locks
from enforcer.cli._common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    add_playbook_arguments,
    load,
    print_json,
    report_problems,
)
from enforcer.cli._locking import HOLDS, add_wait_argument, lock_message, sites_held
from enforcer.errors import BackendError, CredentialStoreError, JournalError, SiteLockError, StalePlan

if TYPE_CHECKING:
    from rich.console import Console

    from enforcer.engine.executor import SiteResult
    from enforcer.engine.journal import Journal
    from enforcer.engine.run import PlayRun
    from enforcer.engine.sitelocks import Held
    from enforcer.model import Play, Playbook
    from enforcer.plan.artifact import Plan, Step


class Hooks(Protocol):
    """What turns a play's run into another command's (rotate): called after facts, before the plan, and
    after the play is applied (or found to need nothing); ``failed`` counts the sites they stopped."""

    failed: int

    def prepare(self, run: PlayRun, *, dry_run: bool) -> None: ...

    def finish(self, run: PlayRun, plan: Plan, results: list[SiteResult]) -> None: ...


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    plan = commands.add_parser(
        "plan",
        help="Gather facts and show what apply would change (exit 0 none, 2 changes, 1 error).",
        description="Gather facts, diff them with the declared state and show the ordered, masked plan. "
        "Exit 0: no changes; 2: changes; 1: error (as terraform plan -detailed-exitcode). " + HOLDS,
    )
    add_playbook_arguments(plan)
    plan.add_argument("-o", "--out", type=Path, metavar="FILE", help="save the plan, for enforce apply FILE")
    _run_arguments(plan)
    plan.set_defaults(run=run_plan)

    apply = commands.add_parser(
        "apply",
        help="Plan, then converge every selected site in lock-safe order.",
        description="Converge the selected sites: isolate stale credential paths, wait out locks, change "
        "recorders, cameras, their channels and clients, release, verify. Given a saved plan file, refuse it "
        "if any device changed since. " + HOLDS,
    )
    add_playbook_arguments(apply, metavar="PLAYBOOK|PLAN", help="a playbook, or a plan file from plan -o")
    apply.add_argument(
        "--check", "-C", action="store_true", help="change nothing: show what would change (the same as enforce plan)"
    )
    apply.add_argument(
        "--diff", "-D", action="store_true", help="under each step that changed something, what changed (masked)"
    )
    apply.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation (CI)")
    apply.add_argument(
        "--journal",
        type=Path,
        metavar="FILE",
        help="the run journal (default: .enforcer/journal.db in the inventory folder; the site locks stay in "
        ".enforcer/locks/ there)",
    )
    _run_arguments(apply)
    add_backend_arguments(apply)
    apply.set_defaults(run=run_apply)


def _run_arguments(sub: argparse.ArgumentParser) -> None:
    add_wait_argument(sub)
    sub.add_argument("--source-address", metavar="IP", help="bind connections to devices to this local address")
    sub.add_argument(
        "--restore-unknown-filters",
        action="store_true",
        help="a device isolated by a run whose record is not in the credential store (its IP filter before is "
        "unknown): switch its filter off, keeping the site's manual clients that hold it out",
    )
    sub.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="F",
        help="for rehearsals on a lab served with --time-scale F: scale the waits the devices ask for",
    )


def _plans(args: argparse.Namespace, playbook: Playbook, hooks: Hooks | None = None) -> list[tuple[PlayRun, Plan]]:
    """Gather and plan every play; returns the runs with their plans."""
    out: list[tuple[PlayRun, Plan]] = []
    for play in playbook.plays:
        run = _play_run(args, play)
        found = run.gather()
        if hooks is not None:
            hooks.prepare(run, dry_run=True)
        plan = run.plan(
            found, playbook=str(playbook.path), limit=tuple(args.limit), restore_unknown=args.restore_unknown_filters
        )
        out.append((run, plan))
    return out


def _play_run(args: argparse.Namespace, play: Play) -> PlayRun:
    from enforcer.drivers.base import DriverOptions
    from enforcer.engine.run import PlayRun

    return PlayRun(play, DriverOptions(source_address=args.source_address), play.concurrency, args.time_scale)


def run_plan(args: argparse.Namespace, out: Console, err: Console, *, hooks: Hooks | None = None) -> int:
    from rich.markup import escape

    from enforcer.plan.artifact import save_plans
    from enforcer.report.plan import plan_view, print_plan

    playbook, diagnostics = load(args, err)
    if playbook is None:
        report_problems(args, diagnostics, err)
        return EXIT_ERROR
    try:
        with sites_held(args, playbook, err, "planned"):
            runs = _plans(args, playbook, hooks)
    except SiteLockError as exc:
        err.print(f"[bold red]error:[/] {escape(lock_message(exc, args))}")
        return EXIT_ERROR
    except CredentialStoreError as exc:
        err.print(f"[bold red]error:[/] credential store: {escape(str(exc))}")
        return EXIT_ERROR
    plans = [p for _, p in runs]
    for run, _ in runs:
        run.close()
    if args.out:
        args.out.write_text(save_plans(plans), encoding="utf-8")
    if args.json:
        print_json({"plans": [plan_view(p) for p in plans]})
    else:
        for plan in plans:
            print_plan(out, plan)
        if args.out:
            out.print(f"saved to {escape(str(args.out))}: enforce apply {escape(str(args.out))}")
    if any(p.failed for p in plans) or (hooks is not None and hooks.failed):
        return EXIT_ERROR
    return EXIT_CHANGES if any(p.has_changes for p in plans) else EXIT_OK


def run_apply(args: argparse.Namespace, out: Console, err: Console, *, hooks: Hooks | None = None) -> int:
    from rich.markup import escape

    from enforcer.plan.artifact import load_plans

    saved: list[Plan] | None = None
    if args.playbook.suffix == ".json":
        try:
            saved = load_plans(args.playbook.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            err.print(f"[bold red]error:[/] {escape(str(args.playbook))}: {escape(str(exc))}")
            return EXIT_ERROR
        args.playbook, args.limit = Path(saved[0].playbook), list(saved[0].limit)
    if args.check:
        return run_plan(argparse.Namespace(**{**vars(args), "out": None}), out, err, hooks=hooks)
    playbook, diagnostics = load(args, err)
    if playbook is None:
        report_problems(args, diagnostics, err)
        return EXIT_ERROR
    try:
        with sites_held(args, playbook, err, "applied", shared_locks(args, playbook)) as held:
            return _apply(args, playbook, saved, held, out, err, hooks)
    except SiteLockError as exc:
        err.print(f"[bold red]error:[/] {escape(lock_message(exc, args))}")
        return EXIT_ERROR


def _apply(
    args: argparse.Namespace,
    playbook: Playbook,
    saved: list[Plan] | None,
    held: Callable[[Play], Held],
    out: Console,
    err: Console,
    hooks: Hooks | None = None,
) -> int:
    """Every play in turn, the sites' locks held (``held`` gives each play's)."""
    from rich.markup import escape

    from enforcer.engine.executor import RunOptions
    from enforcer.engine.run import check_fresh
    from enforcer.plan.steps import FirmwareKind, RebootUnlock
    from enforcer.report.apply import ApplyDisplay, apply_view, print_recap
    from enforcer.report.plan import print_plan

    failed_sites = 0
    all_results = []
    checklist: list[Step] = []
    for index, play in enumerate(playbook.plays):
        try:
            run = _play_run(args, play)
        except CredentialStoreError as exc:
            err.print(f"[bold red]error:[/] credential store: {escape(str(exc))}")
            return EXIT_ERROR
        try:
            journal = _journal(args, play)
        except JournalError as exc:
            run.close()
            err.print(f"[bold red]error:[/] {escape(str(exc))}")
            return EXIT_ERROR
        try:
            found = run.gather(rebooting=frozenset(journal.in_flight((FirmwareKind.action, RebootUnlock.action))))
            if hooks is not None:
                hooks.prepare(run, dry_run=False)
            plan = run.plan(
                found,
                playbook=str(playbook.path),
                limit=tuple(args.limit),
                restore_unknown=args.restore_unknown_filters,
                defer_locked=True,
            )
            if saved is not None:
                waiting = {s.site: s for s in plan.sites if s.wait}
                check_fresh(saved[index], found, sites={s.site for s in plan.sites} - waiting.keys())
                plan = replace(saved[index], sites=tuple(waiting.get(s.site, s) for s in saved[index].sites))
            if not args.json:
                print_plan(out, plan)
            if not plan.has_changes and not any(s.steps or s.wait for s in plan.sites):
                failed_sites += len(plan.failed)
                if hooks is not None:
                    hooks.finish(run, plan, [])
                continue
            if not _confirm(args, out, err):
                return EXIT_ERROR
            steps = sum(len(s.steps) for s in plan.sites)
            with ApplyDisplay(err if args.json else out, steps, diff=args.diff) as display:
                options = RunOptions(
                    concurrency=play.concurrency,
                    serial=play.serial,
                    max_fail_percentage=play.max_fail_percentage,
                    time_scale=args.time_scale,
                )
                replan = partial(
                    run.replan,
                    client_failures=found.client_failures,
                    restore_unknown=args.restore_unknown_filters,
                    saved=saved[index] if saved is not None else None,
                )
                results = run.apply(
                    plan,
                    journal,
                    options,
                    display,
                    held=held(play),
                    source_address=args.source_address,
                    replan=replan,
                    # The run's play (rotate narrows its sites and aspects) under the name the workers know it by.
                    executor=executor(
                        args, replace(run.play, name=play.name), found, saved[index] if saved else None, playbook.path
                    ),
                )
            if hooks is not None:
                hooks.finish(run, plan, results)
            all_results += results
            checklist += run.checklist
            failed_sites += sum(1 for r in results if r.status in ("failed", "skipped"))
            if not args.json:
                print_recap(out, results, run.checklist)
        except StalePlan as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}")
            return EXIT_ERROR
        except CredentialStoreError as exc:
            err.print(f"[bold red]error:[/] credential store: {escape(str(exc))}")
            return EXIT_ERROR
        except BackendError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}")
            return EXIT_ERROR
        finally:
            run.close()
            journal.close()
    if args.json:
        print_json(apply_view(all_results, checklist))
    return EXIT_ERROR if failed_sites or (hooks is not None and hooks.failed) else EXIT_OK


def _journal(args: argparse.Namespace, play: Play) -> Journal:
    from enforcer.engine.journal import Journal
    from enforcer.engine.sitelocks import state_folder

    return Journal(args.journal or state_folder(Path(play.inventory.path)) / "journal.db")


def _confirm(args: argparse.Namespace, out: Console, err: Console) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        err.print("[bold red]error:[/] apply needs confirmation: run it on a terminal, or pass --yes (CI)")
        return False
    answer = out.input("\nApply these changes? Only [bold]yes[/] is accepted: ")
    if answer.strip() != "yes":
        err.print("apply cancelled; nothing was changed")
        return False
    return True
