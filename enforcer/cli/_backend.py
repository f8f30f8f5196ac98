"""``--backend temporal`` and its connection options, for ``apply`` and ``worker``.

The local backend runs every site in this process; the Temporal one submits each site as a workflow to
the workers of its region and follows it (``enforcer.engine.temporal``). Imported only when asked for,
so the other commands never load the Temporal SDK.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from enforcer.cli._locking import _command
from enforcer.engine.gather import Gathered
from enforcer.engine.sitelocks import Holder, SiteLocks
from enforcer.model import Play, Playbook
from enforcer.plan.artifact import Plan

if TYPE_CHECKING:
    from enforcer.engine.executor import Executor
    from enforcer.engine.temporal.connection import Connection


def add_connection_arguments(sub: argparse.ArgumentParser) -> None:
    """--address, --namespace and the mTLS files, as the temporal CLI names them."""
    sub.add_argument(
        "--address",
        default=os.environ.get("TEMPORAL_ADDRESS", "localhost:7233"),
        metavar="HOST:PORT",
        help="the Temporal service (default: $TEMPORAL_ADDRESS, else localhost:7233)",
    )
    sub.add_argument(
        "--namespace",
        default=os.environ.get("TEMPORAL_NAMESPACE", "default"),
        help="the Temporal namespace (default: $TEMPORAL_NAMESPACE, else default)",
    )
    sub.add_argument("--tls-cert", type=Path, metavar="FILE", help="client certificate (PEM), for mTLS")
    sub.add_argument("--tls-key", type=Path, metavar="FILE", help="its private key (PEM)")
    sub.add_argument("--tls-ca", type=Path, metavar="FILE", help="the CA that signed the server's certificate")


def add_backend_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--backend",
        choices=("local", "temporal"),
        default="local",
        help="where sites run: in this process (local), or as Temporal workflows on the workers of each site's "
        "region (temporal: see enforce worker)",
    )
    add_connection_arguments(sub)


def connection(args: argparse.Namespace) -> Connection:
    from enforcer.engine.temporal.connection import Connection

    return Connection(args.address, args.namespace, args.tls_cert, args.tls_key, args.tls_ca)


def shared_locks(args: argparse.Namespace, playbook: Playbook) -> list[tuple[SiteLocks, Collection[str]]]:
    """With ``--backend temporal``: a site whose workflow runs (another machine's run) is held."""
    if args.backend != "temporal":
        return []
    from enforcer.engine.temporal.sitelocks import TemporalSiteLocks

    sites: dict[str, set[str]] = {}
    for play in playbook.plays:
        sites.setdefault(play.inventory.organisation, set()).update(s.name for s in play.selected())
    return [(TemporalSiteLocks(connection(args), organisation), names) for organisation, names in sites.items()]


def executor(
    args: argparse.Namespace, play: Play, found: Gathered, saved: Plan | None, playbook: Path
) -> Executor | None:
    """The backend ``--backend`` names for ``play`` (None: this process)."""
    if args.backend != "temporal":
        return None
    from enforcer.engine.temporal.client import Submission, TemporalExecutor

    submission = Submission(
        str(playbook),
        play,
        Holder.this_process(_command(args), "applied"),
        client_failures=found.client_failures,
        restore_unknown=args.restore_unknown_filters,
        saved=saved,
    )
    return TemporalExecutor(connection(args), submission)
