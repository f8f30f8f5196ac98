"""The ``enforce`` command: turns library results into output and exit codes (DESIGN.md section 8).

Exit codes: 0 success (no changes, compliant); 1 error (invalid input, failures, usage errors);
2 changes pending or not compliant (``plan``, ``audit``), as ``terraform plan -detailed-exitcode``.
Usage errors exit 1, not argparse's 2, so a pipeline never mistakes a typo for "changes pending".

Each command lives in its own module with a ``register(commands)`` function that adds its parser
and sets ``run``; this module only assembles them.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from enforcer import __version__
from enforcer.cli import apply, audit, config, demo, facts, lab
from enforcer.cli._common import EXIT_ERROR, Parser

#: Command modules, in the order ``--help`` lists them.
MODULES = (config, facts, apply, audit, lab, demo)


def parser() -> Parser:
    """The whole command line."""
    top = Parser(
        prog="enforce",
        description="Converge video-surveillance fleets to the credentials, lock policy and firmware "
        "declared in git, without ever locking a device out.",
    )
    top.add_argument("--version", action="version", version=f"enforce {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for module in MODULES:
        module.register(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``enforce`` console script."""
    args = parser().parse_args(argv)
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        code: int = args.run(args, out, err)
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_ERROR
    return code
