"""``enforce worker PLAYBOOK --queue REGION``: run the sites of one region that ``apply --backend temporal``
submits, near them.

The worker loads the playbook itself, from its own checkout of the MSP repository, with its own vault
password: the passwords never travel through Temporal. It serves the sites of REGION (those whose
``region`` is it; ``default`` for the sites naming none) until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket

from rich.console import Console
from rich.markup import escape

from enforcer.cli._backend import add_connection_arguments, connection
from enforcer.cli._common import EXIT_ERROR, EXIT_OK, add_playbook_arguments, load, report_problems
from enforcer.drivers.base import DriverOptions
from enforcer.errors import BackendError


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    text = "Run a Temporal worker for one region: the sites apply --backend temporal submits there."
    sub = commands.add_parser("worker", help=text, description=f"{text} {__doc__.split(chr(10) * 2)[1]}")
    sub.set_defaults(run=run)
    add_playbook_arguments(sub)
    sub.add_argument("--queue", default="default", metavar="REGION", help="the region to serve (default: default)")
    add_connection_arguments(sub)
    sub.add_argument("--concurrency", type=int, default=20, metavar="N", help="steps at once (20)")
    sub.add_argument(
        "--max-activities-per-second", type=float, metavar="F", help="steps this worker starts a second, at most"
    )
    sub.add_argument(
        "--queue-activities-per-second",
        type=float,
        metavar="F",
        help="steps the whole region's queue starts a second, all its workers together, at most",
    )
    sub.add_argument("--identity", metavar="NAME", help="this worker's name in Temporal (default: pid@host)")
    sub.add_argument("--source-address", metavar="IP", help="bind connections to devices to this local address")
    sub.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="F",
        help="for rehearsals on a lab served with --time-scale F: its guard's clock follows the lab's",
    )


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Serve the region until stopped; the SDK is imported here, by this command alone."""
    playbook, diagnostics = load(args, err)
    if playbook is None:
        report_problems(args, diagnostics, err)
        return EXIT_ERROR
    from enforcer.engine.temporal.activities import SiteActivities, WorkerOptions
    from enforcer.engine.temporal.client import DEFAULT_REGION
    from enforcer.engine.temporal.worker import Limits, serve

    region = args.queue
    served = [s for p in playbook.plays for s in p.selected() if (s.region or DEFAULT_REGION) == region]
    if not served:
        err.print(
            f"[bold red]error:[/] no site of {escape(str(args.playbook))} is in region {escape(region)}: a site "
            "names its region with region: (the sites that name none are in region default)"
        )
        return EXIT_ERROR
    identity = args.identity or f"{os.getpid()}@{socket.gethostname()}"
    options = WorkerOptions(
        identity,
        DriverOptions(source_address=args.source_address),
        time_scale=args.time_scale,
        concurrency=args.concurrency,
    )
    activities = SiteActivities(playbook.plays, options)
    limits = Limits(args.concurrency, args.max_activities_per_second, args.queue_activities_per_second)

    def ready() -> None:
        err.print(
            f"worker {escape(identity)} serving {len(served)} site{'s' * (len(served) != 1)} of region "
            f"{escape(region)} from {escape(args.address)} (namespace {escape(args.namespace)}); Ctrl-C stops it"
        )

    try:
        asyncio.run(serve(connection(args), region, activities.activities(), limits, identity=identity, ready=ready))
    except BackendError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        return EXIT_ERROR
    finally:
        activities.close()
    err.print(f"worker {escape(identity)} stopped")
    return EXIT_OK
