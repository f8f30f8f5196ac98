"""``enforce rotate``: new passwords to the credential store, then apply (DESIGN.md section 8).

Only accounts declared ``password: !secret "store:"`` are rotated: their password is the store's. The
run is ``enforce apply``'s, credentials only, with :mod:`enforcer.engine.rotate` before the plan (draw
the passwords, record them as pending, durably, before any device sees one) and after the apply (a site
that converged has finished its rotation). ``--plan`` is the dry run: the same plan, masked, with
passwords drawn and forgotten; nothing is written. Exit codes are apply's (``--plan``: plan's).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from enforcer.cli._backend import add_backend_arguments
from enforcer.cli._common import EXIT_ERROR, add_playbook_arguments
from enforcer.cli._locking import HOLDS
from enforcer.cli.apply import _run_arguments, run_apply
from enforcer.errors import EnforcerError

if TYPE_CHECKING:
    from rich.console import Console

    from enforcer.engine.executor import SiteResult
    from enforcer.engine.run import PlayRun
    from enforcer.plan.artifact import Plan


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub = commands.add_parser(
        "rotate",
        help="New passwords for the accounts the credential store owns, then apply (exit as apply).",
        description='Rotate the passwords of the accounts declared password: !secret "store:": draw each with '
        "Python's secrets under the rules of its device, its recorder and every client holding it, write it to "
        "the credential store as pending before any device sees it, then converge as apply does (lock-safe "
        "order, isolation, clients), verify each new password logs in and keep the old one as previous. A "
        "rotation a killed run left is finished first, with its own passwords. " + HOLDS,
    )
    add_playbook_arguments(sub)
    sub.add_argument("--sites", action="append", dest="limit", metavar="PATTERN", help="the same as --limit")
    sub.add_argument(
        "--accounts",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help='only these account names (default: every account declared !secret "store:")',
    )
    sub.add_argument(
        "--plan",
        "--check",
        "-C",
        dest="check",
        action="store_true",
        help="change nothing: show the rotation's plan, masked (exit 0 nothing to rotate, 2 changes, 1 error)",
    )
    sub.add_argument("--diff", "-D", action="store_true", help="under each step, what it changed (masked)")
    sub.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation (CI)")
    sub.add_argument("--journal", type=Path, metavar="FILE", help="the run journal (as apply)")
    _run_arguments(sub)
    add_backend_arguments(sub)
    sub.set_defaults(run=run_rotate)


def run_rotate(args: argparse.Namespace, out: Console, err: Console) -> int:
    from rich.markup import escape

    accounts = {name.strip() for given in args.accounts for name in given.split(",") if name.strip()}
    hooks = RotationHooks(accounts, err)
    try:
        return run_apply(args, out, err, hooks=hooks)
    except EnforcerError as exc:  # nothing to rotate, an account that is not the store's
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        return EXIT_ERROR


@dataclass
class RotationHooks:
    """Rotate's part of an apply run (see :class:`enforcer.cli.apply.Hooks`)."""

    accounts: set[str]
    err: Console
    failed: int = 0
    choices: dict[int, Any] = field(default_factory=dict)  # rotate.Choice, by run

    def prepare(self, run: PlayRun, *, dry_run: bool) -> None:
        from rich.markup import escape

        from enforcer.engine import rotate

        store = run.keyring.store
        choice = rotate.choose(run.play, store, self.accounts)
        if choice.resumed:
            first = min(choice.resumed.values(), key=lambda r: r.started)
            self.err.print(
                f"finishing the rotation started {first.started} ({', '.join(first.accounts)}) at "
                f"{', '.join(sorted(choice.resumed))}, with its own passwords; nothing new is drawn. Run "
                "enforce rotate again afterwards for new passwords."
            )
        play, choice = rotate.prepare(run.play, store, choice, dry_run=dry_run)
        for site, why in sorted(choice.stopped.items()):
            self.err.print(f"[bold red]error:[/] rotation stopped at {escape(site)}: {escape(why)}")
        self.failed += len(choice.stopped)
        run.play = replace(play, name=f"{play.name} (rotation {choice.id})")  # the journal's name for it
        self.choices[id(run)] = choice

    def finish(self, run: PlayRun, plan: Plan, results: list[SiteResult]) -> None:
        from enforcer.engine import rotate

        choice = self.choices.pop(id(run))
        if results:
            converged = {r.site for r in results if r.status in ("converged", "unchanged")}
        else:
            converged = {s.site for s in plan.sites if not s.error}
        unfinished = rotate.finish(run.keyring.store, choice, converged)
        if unfinished:
            self.err.print(
                f"rotation unfinished at {', '.join(unfinished)}: its passwords stay pending in the credential "
                "store; run enforce rotate again to finish it with the same passwords"
            )
