"""``enforce audit PLAYBOOK``: where the fleet stands against the declared state, read-only.

It reads what ``facts`` reads, the same lock-safe way (so it holds the selected sites' locks as facts does,
see :mod:`._locking`), then each device's security log with the credential that worked, and reports
findings, who fails logins and the checklist, on the console or as ``--json``, and into ``--html``,
``--junit`` and ``--markdown`` files. Nothing is changed: no device, not the credential store.

Exit codes: 0 compliant; 2 not compliant (a finding other than info, a device locked now); 1 error (invalid
input, a site held by another run, the credential store, or a device that could not be read: an audit that
could not see a device cannot call the fleet compliant). The report files are written in every case where
devices were read.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from enforcer.audit import AuditReport, PlayAudit
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
from enforcer.drivers.base import DriverOptions
from enforcer.engine.audit import DAY, audit_play
from enforcer.engine.run import PlayRun
from enforcer.errors import CredentialStoreError, SiteLockError
from enforcer.model import Playbook
from enforcer.report.audit import audit_document, audit_html, audit_junit, audit_markdown, print_audit
from enforcer.report.console import print_diagnostics


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    text = "Report where every selected device stands against the declared state, read-only (exit 0 compliant, 2 not)."
    sub = commands.add_parser(
        "audit",
        help=text,
        description=f"{text} Finds default and weak passwords, unknown accounts, old firmware, the lock policy off "
        "or different, locked devices, refused channels and drift, and names who fails logins from each device's "
        f"security log. {HOLDS}",
    )
    add_playbook_arguments(sub)
    sub.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML report")
    sub.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML: one test case per device and check")
    sub.add_argument("--markdown", type=Path, metavar="FILE", help="write a short Markdown summary (a PR comment)")
    sub.add_argument("--report-json", type=Path, metavar="FILE", help="write the JSON report to FILE as well")
    sub.add_argument(
        "--since",
        type=float,
        default=7.0,
        metavar="DAYS",
        help="read the security logs this many days back (7)",
    )
    sub.add_argument(
        "--own-address",
        action="append",
        default=[],
        metavar="IP",
        help="an address enforcer's logins reach the devices from (behind NAT); repeatable",
    )
    sub.add_argument("--source-address", metavar="IP", help="bind connections to devices to this local address")
    sub.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per-request timeout (10)")
    sub.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="F",
        help="for a lab served with --time-scale F: scale the lock times the devices report",
    )
    add_wait_argument(sub)
    sub.set_defaults(run=run)


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    playbook, diagnostics = load(args, err)
    if playbook is None:
        report_problems(args, diagnostics, err)
        return EXIT_ERROR
    if not args.json:
        print_diagnostics(err, diagnostics)
    if args.since <= 0:
        err.print("[bold red]error:[/] --since must be a positive number of days")
        return EXIT_ERROR
    try:
        with sites_held(args, playbook, err, "audited"):
            report = _audit(args, playbook)
    except SiteLockError as exc:
        err.print(f"[bold red]error:[/] {escape(lock_message(exc, args))}")
        return EXIT_ERROR
    except CredentialStoreError as exc:
        err.print(f"[bold red]error:[/] credential store: {escape(str(exc))}; no device was touched")
        return EXIT_ERROR
    command = shlex.join(["enforce", "audit", str(args.playbook), *(w for p in args.limit for w in ("--limit", p))])
    written, unwritten = _write(args, report, command, err)
    if args.json:
        print_json(audit_document(report))
    else:
        print_audit(out, report)
        for path in written:
            out.print(f"wrote {escape(str(path))}")
    if report.unread or unwritten:
        return EXIT_ERROR
    return EXIT_OK if report.compliant else EXIT_CHANGES


def _audit(args: argparse.Namespace, playbook: Playbook) -> AuditReport:
    now = time.time()
    since = now - args.since * DAY
    options = DriverOptions(timeout=args.timeout, source_address=args.source_address)
    plays: list[PlayAudit] = []
    for play in playbook.plays:
        session = PlayRun(play, options, play.concurrency, args.time_scale)
        try:
            plays.append(audit_play(session, since=since, now=now, own=args.own_address))
        finally:
            session.close()
    return AuditReport(str(args.playbook), now, since, tuple(plays))


def _write(args: argparse.Namespace, report: AuditReport, command: str, err: Console) -> tuple[list[Path], bool]:
    """Write the report files asked for: the paths written, and whether any could not be (said on ``err``)."""
    wanted: list[tuple[Path | None, Callable[[], bytes]]] = [
        (args.html, lambda: audit_html(report, command=command).encode()),
        (args.junit, lambda: audit_junit(report)),
        (args.markdown, lambda: audit_markdown(report, command=command).encode()),
        (args.report_json, lambda: (json.dumps(audit_document(report), indent=2) + "\n").encode()),
    ]
    written, unwritten = [], False
    for path, render in wanted:
        if path is None:
            continue
        try:
            Path(path).write_bytes(render())
        except OSError as exc:
            err.print(f"[bold red]error:[/] cannot write {escape(str(path))}: {escape(exc.strerror or str(exc))}")
            unwritten = True
            continue
        written.append(Path(path))
    return written, unwritten
