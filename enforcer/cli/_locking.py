"""The site locks as commands take them: ``--wait``, who holds a site, what a person can do about it.

``apply``, ``plan`` and ``facts`` all take the locks of the sites they select before they touch a
device, because all three spend login attempts: discovery tries the stored passwords, and each
process's login guard counts only its own attempts. A plan or facts run beside an apply on the same
site could try a password the apply has just changed, and together the two could spend the reserved
attempts that keep a device from locking. ``validate`` and ``inventory`` touch no device and take none.

A run takes every selected site or none: it never starts on part of a selection (its plan, its
rolling batches and its recap are of the whole), so a held site stops the run, or, with ``--wait``,
holds it back until every site is free. To go ahead without a held site, leave it out with
``--limit '!SITE'``.
"""

from __future__ import annotations

import argparse
import math
import shlex
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from enforcer.engine.sitelocks import FileSiteLocks, Held, Holder, SiteLocks, holding, state_folder
from enforcer.errors import SiteBusy, SiteLockError
from enforcer.model import Play, Playbook

#: What ``--help`` says of the locks, for each command that takes them.
HOLDS = (
    "It holds the locks of the selected sites from before the first device is read to the end, all or none: "
    "a site another run holds stops it with exit 1, naming the holder (see --wait; --limit '!SITE' leaves "
    "a site out)."
)


def add_wait_argument(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--wait",
        nargs="?",
        type=_seconds,
        const=math.inf,
        default=None,
        metavar="SECONDS",
        help="when another run holds a selected site, wait for it to finish (up to SECONDS, else as long as "
        "it takes) instead of stopping with exit 1; a run starts only once every selected site is free",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r} (write --wait after PLAYBOOK)") from None
    if value < 0:
        raise argparse.ArgumentTypeError("seconds must not be negative")
    return value


@contextmanager
def sites_held(
    args: argparse.Namespace,
    playbook: Playbook,
    err: Console,
    doing: str,
    shared: Sequence[tuple[SiteLocks, Collection[str]]] = (),
) -> Iterator[Callable[[Play], Held]]:
    """Hold the locks of every site the playbook selects for the block; yields each play's locks.

    ``doing`` says what the run does to a site, for whoever finds it held: "applied", "planned", "read".
    ``shared``: the locks a shared backend keeps between machines, taken with this machine's, all or none.

    Raises :class:`SiteBusy` (with ``--wait``, once the wait is over) or :class:`SiteLockError`.
    """
    wanted: dict[Path, set[str]] = {}
    for play in playbook.plays:
        wanted.setdefault(_folder(play), set()).update(site.name for site in play.selected())
    claims = [(FileSiteLocks(folder / "locks"), sites) for folder, sites in wanted.items()] + list(shared)
    holder = Holder.this_process(_command(args), doing)

    def waiting(busy: SiteBusy, waited: float) -> None:
        up_to = "" if args.wait == math.inf else f", for up to {args.wait:g} s"
        err.print(f"waiting: {escape(str(busy))} (waited {waited:.0f} s{up_to})")

    with holding(claims, holder, wait=args.wait, on_wait=waiting) as held:
        mine = dict(zip(wanted, held[: len(wanted)], strict=True))
        yield lambda play: mine[_folder(play)]


def lock_message(exc: SiteLockError, args: argparse.Namespace) -> str:
    """The error line for a lock not taken, with what to do about it."""
    if not isinstance(exc, SiteBusy):
        return str(exc)
    if args.wait:
        return f"{exc}; still held after waiting {args.wait:g} s"
    return f"{exc}; wait for it, or run again with --wait"


def _folder(play: Play) -> Path:
    """The inventory's state folder, resolved: two plays naming one inventory differently share its locks."""
    return state_folder(Path(play.inventory.path)).resolve()


def _command(args: argparse.Namespace) -> str:
    """The command as a person would recognise it (enforcer's own arguments: no secret can be among them)."""
    words = ["enforce", args.command, str(args.playbook)]
    for pattern in args.limit:
        words += ["--limit", pattern]
    return shlex.join(words)
