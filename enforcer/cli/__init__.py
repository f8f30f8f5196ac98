"""The ``enforce`` command: turns library results into output and exit codes (DESIGN.md section 8).

Exit codes: 0 success (no changes, compliant); 1 error (invalid input, failures, usage errors);
2 changes pending or not compliant (``plan``, ``audit``), as ``terraform plan -detailed-exitcode``.
Usage errors exit 1, not argparse's 2, so a pipeline never mistakes a typo for "changes pending".

Each command lives in its own module with a ``register(commands)`` function that adds its parser
and sets ``run``; this module only assembles them: all of them for ``--help`` (and completion), the
named command's module alone for a run (the other ten modules and their parsers were 12 ms of each).
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Sequence
from importlib import import_module
from typing import TYPE_CHECKING, NoReturn

from enforcer import __version__
from enforcer.cli._common import EXIT_ERROR, EXIT_OK, Parser

if TYPE_CHECKING:
    from rich.console import Console

#: Each command and the module (in ``enforcer.cli``) that registers it, in the order ``--help`` lists them.
COMMANDS = {
    "init": "onboard",
    "import": "onboard",
    "validate": "config",
    "inventory": "config",
    "facts": "facts",
    "plan": "apply",
    "apply": "apply",
    "rotate": "rotate",
    "worker": "worker",
    "audit": "audit",
    "secrets": "secrets",
    "lab": "lab",
    "demo": "demo",
    "completion": "completion",
}


def parser(argv: Sequence[str] = ()) -> Parser:
    """The whole command line; or, when ``argv`` names a command before any ``--help``, that command's alone."""
    top = Parser(
        prog="enforce",
        description="Converge video-surveillance fleets to the credentials, lock policy and firmware "
        "declared in git, without ever locking a device out.",
    )
    top.add_argument("--version", action="version", version=f"enforce {__version__}")
    top.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more to stderr: -v what enforcer decides (logins tried, guard refusals), -vv every request too",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for module in _modules(argv):
        import_module(f"enforcer.cli.{module}").register(commands)
    return top


def _modules(argv: Sequence[str]) -> tuple[str, ...]:
    """The modules of the command ``argv`` names (its first word: no top-level option takes a value); none
    for ``--version``; every module when it names none, or asks for the top-level help, which lists them all."""
    for arg in argv:
        if _asks_help(arg):
            break
        if arg == "--version":
            return ()
        if not arg.startswith("-"):
            if arg in COMMANDS:
                return (COMMANDS[arg],)
            break
    return tuple(dict.fromkeys(COMMANDS.values()))


def _asks_help(arg: str) -> bool:
    """``-h``, ``--help`` as argparse reads it too: abbreviated (``--he``) or among short flags (``-vh``)."""
    if arg.startswith("--"):
        return len(arg) > 2 and "--help".startswith(arg)
    return arg.startswith("-") and "h" in arg


def verbose(level: int, err: Console) -> logging.Handler | None:
    """``-v``: enforcer's own decisions (INFO); ``-vv``: everything, the HTTP requests too (DEBUG). Passwords in
    a request line are masked by the transport's log filter; no other log line carries one."""
    if level <= 0:
        return None
    from rich.logging import RichHandler

    handler = RichHandler(console=err, show_path=False, markup=False, rich_tracebacks=False)
    handler.setLevel(logging.INFO if level == 1 else logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if level > 1 else logging.WARNING)
    logging.getLogger("enforcer").setLevel(logging.INFO if level == 1 else logging.DEBUG)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``enforce`` console script."""
    args = parser(sys.argv[1:] if argv is None else argv).parse_args(argv)
    from rich.console import Console  # not before: --version and --help need none of rich

    # A command builds objects it keeps to its end (the inventory, the store, the facts): the cyclic
    # collector's frequent passes over them find nothing to free (3 % of a 1,000-device facts).
    gc.set_threshold(50_000, 20, 20)

    # Off a terminal (a CI log, a pipe) nothing is cut to 80 columns.
    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "0") or 0) or 200
    out = Console(highlight=False, soft_wrap=True, width=width)
    err = Console(stderr=True, highlight=False, soft_wrap=True, width=width)
    handler = verbose(args.verbose, err)
    try:
        code: int = args.run(args, out, err)
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_ERROR
    except BrokenPipeError:  # `enforce … | head`: the reader has gone; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        if handler is not None:
            logging.getLogger().removeHandler(handler)
    return code


def entry() -> NoReturn:
    """The console script: :func:`main`, then exit.

    After the Temporal SDK has run (``apply --backend temporal``, ``worker``), the process ends without
    the interpreter's teardown, once the output is flushed: the SDK's native threads can outlive it and
    crash the exit of a run that succeeded.
    """
    code = main()
    if "temporalio.bridge.temporal_sdk_bridge" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
