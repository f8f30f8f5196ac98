"""``enforce secrets check PLAYBOOK``: every secret reference resolves, and no secret is in the repository
in clear. Exit 0 clean, 1 with findings, each as ``file:line: why`` (never the value).

Three checks: the playbook loads with every reference resolved (``env:``, ``file:``, ``vault:``, inline
``!vault``; the loader's own errors, with file and line); each account declared ``!secret "store:"`` has
a password in the credential store; and the files git tracks in the playbook's repository (every file
under its folder, when it is not in git) hold no known password field with a literal value and no
high-entropy string (:mod:`enforcer.config.plaintext`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from enforcer.cli._common import EXIT_ERROR, EXIT_OK, add_playbook_arguments, load, print_json, report_problems
from enforcer.errors import CredentialStoreError

if TYPE_CHECKING:
    from rich.console import Console

    from enforcer.config.plaintext import Finding
    from enforcer.model import Playbook

_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".enforcer"}


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = commands.add_parser("secrets", help="Check secret references and the repository for plaintext secrets.")
    verbs = group.add_subparsers(dest="verb", required=True, metavar="VERB")
    check = verbs.add_parser(
        "check",
        help="Every reference resolves; no plaintext secret in the repository (exit 0 clean, 1 findings).",
        description="Load the playbook resolving every secret reference, check that the credential store holds a "
        'password for each account declared !secret "store:", and scan the files git tracks for known password '
        "fields with literal values and high-entropy strings. Each finding is file:line and why, never the value. "
        "A line that must hold such a string is let through by a comment 'enforce: not-secret' on it.",
    )
    add_playbook_arguments(check)
    check.set_defaults(run=run_check)


def run_check(args: argparse.Namespace, out: Console, err: Console) -> int:
    from rich.markup import escape

    playbook, diagnostics = load(args, err)
    findings: list[Finding] = []
    if playbook is None:
        report_problems(args, diagnostics, err)
    else:
        findings += _stored(playbook)
    findings += scan_repository(args.playbook.resolve().parent)
    failed = playbook is None or bool(findings)
    if args.json:
        print_json(
            {
                "ok": not failed,
                "findings": [{"file": f.file, "line": f.line, "message": f.why} for f in findings],
            }
        )
        return EXIT_ERROR if failed else EXIT_OK
    for finding in findings:
        err.print(f"[bold red]error:[/] {escape(str(finding))}")
    if failed:
        err.print(f"[bold red]secrets check failed:[/] {len(findings)} finding{'s' * (len(findings) != 1)}")
        return EXIT_ERROR
    out.print("[bold green]✓[/] every secret reference resolves; no plaintext secret in the repository")
    return EXIT_OK


def _stored(playbook: Playbook) -> list[Finding]:
    """An account the store owns with no password there yet."""
    from enforcer.config.plaintext import Finding
    from enforcer.credentials.backends import open_store

    out: list[Finding] = []
    for play in playbook.plays:
        inventory = play.inventory
        where = str(inventory.path)
        try:
            store = open_store(inventory)
        except CredentialStoreError as exc:
            return [Finding(where, 1, f"credential store: {exc}")]
        for site in play.selected():
            for device in site.devices:
                for account in device.accounts:
                    entry = store.get(device.id, account.name) if account.generated else None
                    if account.generated and (entry is None or (entry.current or entry.pending) is None):
                        out.append(
                            Finding(
                                where,
                                1,
                                f'{device.id} {account.name} is declared !secret "store:" but the credential store '
                                "holds no password for it: enforce import records the one it has",
                            )
                        )
    return out


def scan_repository(folder: Path) -> list[Finding]:
    """Findings in the files git tracks in ``folder``'s repository, else in every file under ``folder``."""
    from enforcer.config import limits
    from enforcer.config.plaintext import scan_text

    _, files = _tracked(folder)
    out: list[Finding] = []
    for path in files:
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > limits.MAX_FILE_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data:
            continue  # binary: a firmware image, a picture
        out += scan_text(os.path.relpath(path, Path.cwd()), data.decode("utf-8", "replace"))
    return out


def _tracked(folder: Path) -> tuple[Path, list[Path]]:
    """The repository's top folder and the files git tracks there; else ``folder`` and every file under it."""
    try:
        top = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
        ).stdout.strip()
        listed = subprocess.run(
            ["git", "-C", top, "ls-files", "-z"], capture_output=True, text=True, check=True
        ).stdout.split("\0")
        return Path(top), [Path(top) / name for name in listed if name]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for base, dirs, names in os.walk(folder):
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
            files += [Path(base) / name for name in names]
        return folder, files
