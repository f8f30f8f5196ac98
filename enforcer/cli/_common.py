"""What every command shares: the parser class, playbook arguments, loading, JSON and problems."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape

from enforcer.cli import _vaultpass
from enforcer.config.diagnostics import Diagnostics, Location
from enforcer.config.playbook import load_playbook
from enforcer.model import Playbook
from enforcer.report.console import print_diagnostics

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 1 (2 means "changes pending" here)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def add_playbook_arguments(
    sub: argparse.ArgumentParser,
    *,
    metavar: str = "PLAYBOOK",
    help: str = "the playbook file, e.g. playbooks/site.yml",
) -> None:
    """PLAYBOOK, --limit, --vault-password-file and --json, as every playbook command takes them."""
    sub.add_argument("playbook", type=Path, metavar=metavar, help=help)
    sub.add_argument(
        "--limit",
        "-l",
        action="append",
        default=[],
        metavar="PATTERN",
        help="only these sites, as Ansible reads a pattern: names, globs, groups, devices (their site), "
        "~REGEX, joined by : or , with &PATTERN to intersect and !PATTERN to exclude; all for every site",
    )
    sub.add_argument(
        "--vault-password-file",
        type=Path,
        metavar="FILE",
        help="the vault password: a file holding it, or an executable printing it (default: "
        "$ENFORCE_VAULT_PASSWORD_FILE, $ANSIBLE_VAULT_PASSWORD_FILE, else the inventory's vault_password)",
    )
    sub.add_argument(
        "--vault-id",
        metavar="[LABEL@]SOURCE",
        help="as ansible-vault: SOURCE is a password file, an executable (a *-client script gets --vault-id "
        "LABEL), or prompt",
    )
    sub.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def load(args: argparse.Namespace, err: Console) -> tuple[Playbook | None, Diagnostics]:
    """Load the playbook the arguments name; None when anything is wrong (see the diagnostics)."""
    diagnostics = Diagnostics()
    vault_password = None
    source = _vaultpass.source_from(args.vault_id, args.vault_password_file)
    if source is not None:
        try:
            vault_password = _vaultpass.read(*source)
        except _vaultpass.VaultPasswordError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}")
            return None, diagnostics
    try:
        playbook = load_playbook(args.playbook, diagnostics, limit=args.limit, vault_password=vault_password)
    except Exception as exc:  # the loader reports problems, never raises: a gap must still not be a traceback
        text = str(exc) if len(str(exc)) <= 200 else str(exc)[:200] + "…"
        diagnostics.error(
            Location(args.playbook, 1, ()),
            f"cannot load: {type(exc).__name__}: {text}",
            "this is a bug in enforcer's checks; please report it with the file",
        )
        return None, diagnostics
    return (playbook if not diagnostics.errors else None), diagnostics


def report_problems(args: argparse.Namespace, diagnostics: Diagnostics, err: Console) -> None:
    """Problems as JSON on stdout with --json, else one line each on stderr."""
    if args.json:
        if diagnostics.errors:
            print_json({"valid": False, "problems": problems_view(diagnostics)})
        return
    print_diagnostics(err, diagnostics)
    if diagnostics.errors:
        count = len(diagnostics.errors)
        playbook = escape(str(args.playbook))
        err.print(f"[bold red]{playbook} is invalid:[/] {count} error{'s' * (count != 1)}; nothing was touched.")


def problems_view(diagnostics: Diagnostics) -> list[dict[str, Any]]:
    return [
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


def print_json(data: object) -> None:
    """JSON straight to stdout: no console styling or wrapping in what machines read."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
