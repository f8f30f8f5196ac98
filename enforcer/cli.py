"""The ``enforce`` command: turns library results into output and exit codes (DESIGN.md section 8).

Exit codes: 0 success (no changes, compliant); 1 error (invalid input, failures, usage errors);
2 changes pending or not compliant (``plan``, ``audit``), as ``terraform plan -detailed-exitcode``.
Usage errors exit 1, not argparse's 2, so a pipeline never mistakes a typo for "changes pending".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from enforcer import __version__
from enforcer.config.diagnostics import Diagnostics
from enforcer.config.playbook import load_playbook
from enforcer.config.secrets import Secret
from enforcer.model import Playbook
from enforcer.report.console import print_diagnostics, print_inventory, summary
from enforcer.report.desired import playbook_view

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="enforce",
        description="Converge video-surveillance fleets to the credentials, lock policy and firmware "
        "declared in git, without ever locking a device out.",
    )
    parser.add_argument("--version", action="version", version=f"enforce {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def playbook_command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument("playbook", type=Path, metavar="PLAYBOOK", help="the playbook file, e.g. playbooks/site.yml")
        sub.add_argument(
            "--limit",
            action="append",
            default=[],
            metavar="PATTERN",
            help="only these sites: a name, a glob, group:NAME, or !PATTERN to exclude (repeatable)",
        )
        sub.add_argument(
            "--vault-password-file",
            type=Path,
            metavar="FILE",
            default=os.environ.get("ENFORCE_VAULT_PASSWORD_FILE"),
            help="read the vault password from FILE (default: $ENFORCE_VAULT_PASSWORD_FILE, else the "
            "inventory's vault_password)",
        )
        sub.add_argument("--json", action="store_true", help="machine-readable output on stdout")
        return sub

    playbook_command("validate", "Load, template, resolve references and validate a playbook and its inventory.")
    playbook_command("inventory", "Show the resolved desired state of every selected device (secrets masked).")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``enforce`` console script."""
    args = _parser().parse_args(argv)
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        return _COMMANDS[args.command](args, out, err)
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_ERROR


def _load(args: argparse.Namespace, err: Console) -> tuple[Playbook | None, Diagnostics]:
    diagnostics = Diagnostics()
    vault_password = None
    if args.vault_password_file:
        try:
            text = Path(args.vault_password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            err.print(f"[bold red]error:[/] cannot read vault password file {args.vault_password_file}: {exc.strerror}")
            return None, diagnostics
        vault_password = Secret(text, f"file:{args.vault_password_file}")
    playbook = load_playbook(args.playbook, diagnostics, limit=args.limit, vault_password=vault_password)
    return (playbook if not diagnostics.errors else None), diagnostics


def _report_problems(args: argparse.Namespace, diagnostics: Diagnostics, out: Console, err: Console) -> None:
    if args.json:
        problems = [
            {
                "severity": d.severity,
                "file": str(d.location.file),
                "line": d.location.line,
                "key": d.location.key,
                "message": d.summary,
                "hint": d.hint,
            }
            for d in diagnostics
        ]
        _print_json({"valid": not diagnostics.errors, "problems": problems})
    else:
        print_diagnostics(err, diagnostics)
    if diagnostics.errors and not args.json:
        count = len(diagnostics.errors)
        err.print(f"[bold red]{args.playbook} is invalid:[/] {count} error{'s' * (count != 1)}; nothing was touched.")


def _validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    playbook, diagnostics = _load(args, err)
    if playbook is None:
        _report_problems(args, diagnostics, out, err)
        return EXIT_ERROR
    _report_problems(args, diagnostics, out, err)
    if not args.json:
        out.print(f"[bold green]✓[/] {args.playbook} is valid: {summary(playbook)}")
    return EXIT_OK


def _inventory(args: argparse.Namespace, out: Console, err: Console) -> int:
    playbook, diagnostics = _load(args, err)
    if playbook is None:
        _report_problems(args, diagnostics, out, err)
        return EXIT_ERROR
    if args.json:
        _print_json(playbook_view(playbook))
        return EXIT_OK
    print_diagnostics(err, diagnostics)
    print_inventory(out, playbook)
    out.print(summary(playbook))
    return EXIT_OK


def _print_json(data: object) -> None:
    """JSON straight to stdout: no console styling or wrapping in what machines read."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


_COMMANDS = {"validate": _validate, "inventory": _inventory}
