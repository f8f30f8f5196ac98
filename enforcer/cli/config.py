"""``enforce validate`` and ``enforce inventory``: the configuration, before any device is touched."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from enforcer.cli._common import (
    EXIT_ERROR,
    EXIT_OK,
    add_playbook_arguments,
    load,
    print_json,
    problems_view,
    report_problems,
)

if TYPE_CHECKING:
    from rich.console import Console


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    for name, run, text in (
        ("validate", validate, "Load, template, resolve references and validate a playbook and its inventory."),
        ("inventory", inventory, "Show the resolved desired state of every selected device (secrets masked)."),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        add_playbook_arguments(sub)
        sub.set_defaults(run=run)


def validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    from rich.markup import escape

    from enforcer.report.console import summary

    playbook, diagnostics = load(args, err)
    if args.json:
        print_json({"valid": playbook is not None, "problems": problems_view(diagnostics)})
        return EXIT_OK if playbook is not None else EXIT_ERROR
    report_problems(args, diagnostics, err)
    if playbook is None:
        return EXIT_ERROR
    out.print(f"[bold green]✓[/] {escape(str(args.playbook))} is valid: {summary(playbook)}")
    return EXIT_OK


def inventory(args: argparse.Namespace, out: Console, err: Console) -> int:
    from enforcer.report.console import print_diagnostics, print_inventory, summary
    from enforcer.report.desired import playbook_view

    playbook, diagnostics = load(args, err)
    if playbook is None:
        report_problems(args, diagnostics, err)
        return EXIT_ERROR
    if args.json:
        print_json(playbook_view(playbook))
        return EXIT_OK
    print_diagnostics(err, diagnostics)
    print_inventory(out, playbook)
    out.print(summary(playbook))
    return EXIT_OK
