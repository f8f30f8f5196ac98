"""``enforce lab generate`` and ``enforce lab serve``: the simulated fleet MSPs rehearse changes on."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from enforcer.cli._common import EXIT_ERROR, EXIT_OK, Parser
from enforcer.lab.choices import CLIENT_KINDS, PROBLEMS, VENDORS

if TYPE_CHECKING:
    from rich.console import Console

T = TypeVar("T")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    lab = commands.add_parser("lab", help="Generate and serve a simulated fleet.", description=__doc__)
    sub = lab.add_subparsers(dest="lab_command", required=True, metavar="COMMAND", parser_class=Parser)

    gen = sub.add_parser(
        "generate",
        help="Write an MSP repo for a simulated fleet, and the lab's spec of each device's actual state.",
        description="Write DIR/site.yml, DIR/inventory/ (secrets in vaults, the vault password in "
        "DIR/inventory/.vault-password) and DIR/lab.spec.json. The same seed gives the same fleet.",
    )
    gen.add_argument("--sites", type=int, default=2, help="how many sites (default 2)")
    gen.add_argument("--cameras", type=int, default=3, help="cameras per site (default 3)")
    gen.add_argument(
        "--vendor",
        default="hikvision",
        choices=VENDORS,
        help="every site's vendor, or mixed: each site one vendor, in turn hikvision, dahua, annke, amcrest "
        "(default hikvision)",
    )
    gen.add_argument("--seed", type=int, default=1, help="seed of every random choice (default 1)")
    gen.add_argument(
        "--problems",
        type=_argument(_generator("parse_problems")),
        default=(),
        metavar="LIST",
        help=f"comma list, or all: {', '.join(PROBLEMS)}",
    )
    gen.add_argument(
        "--problem-share",
        type=_argument(_generator("parse_share")),
        default=1.0,
        metavar="SHARE",
        help="share of sites each problem goes to: 0.2, or locked=0.1,stale_viewer=0.5 (default 1)",
    )
    gen.add_argument(
        "--thresholds",
        type=_thresholds,
        default=None,
        metavar="LIST",
        help="lock thresholds to draw from, e.g. 3,5,7 (default 3-7, mostly the model's)",
    )
    gen.add_argument("--https-share", type=float, default=0.0, metavar="SHARE", help="share of recorders on HTTPS")
    gen.add_argument("--organisation", default="lab-msp", help="the MSP's name")
    gen.add_argument(
        "--clients",
        type=_argument(_generator("parse_clients")),
        default=(),
        metavar="LIST",
        help=f"clients to add to every site, holding its current credentials: comma list of {', '.join(CLIENT_KINDS)} "
        "(milestone: an XProtect server over HTTPS; ssh: a Frigate-like host behind a real sshd, needs "
        "openssh-server; viewer: a desktop viewer)",
    )
    gen.add_argument("--out", type=Path, required=True, metavar="DIR", help="where to write (missing or empty)")
    gen.set_defaults(run=_generate)

    srv = sub.add_parser(
        "serve",
        help="Serve a generated fleet, each device on its own loopback address, until interrupted.",
        description="Serve DIR/lab.spec.json. When ready, DIR/lab.ready.json lists every device and client; "
        "DIR/lab.state.json follows every change; DIR/lab.events.jsonl records every failed login, lock, "
        "change and reboot. Stops on Ctrl-C or SIGTERM.",
    )
    srv.add_argument("directory", type=Path, metavar="DIR")
    srv.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="F",
        help="multiply every duration: 0.001 makes a 30-minute lock last 1.8 s",
    )
    srv.add_argument(
        "--base",
        type=_argument(_base),
        default="auto",
        metavar="N|auto",
        help="the loopback block to listen on: 127.N.x.y (default auto: the fleet's own if free, else the "
        "first free one, so that labs run side by side); the repository's inventory/lab.yml follows",
    )
    srv.set_defaults(run=_serve)


def _argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type whose ValueError message reaches the user (argparse hides it otherwise)."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _generator(name: str) -> Callable[[str], Any]:
    """The generator's parser of an option, imported when an option is given (the generator is heavy)."""

    def parse(text: str) -> Any:
        from enforcer.lab.generate import generator

        return getattr(generator, name)(text)

    return parse


def _thresholds(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"thresholds are whole numbers, e.g. 3,5,7, not {text!r}") from None


def _generate(args: argparse.Namespace, out: Console, err: Console) -> int:
    from rich.markup import escape

    from enforcer.lab.generate.generator import generate

    try:
        spec = generate(
            args.out,
            sites=args.sites,
            cameras=args.cameras,
            vendor=args.vendor,
            seed=args.seed,
            problems=args.problems,
            thresholds=args.thresholds,
            problem_share=args.problem_share,
            https_share=args.https_share,
            organisation=args.organisation,
            clients=args.clients,
        )
    except (ValueError, FileExistsError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        return EXIT_ERROR
    problems = sum(len(d.problems) for d in spec.devices) + sum(len(c.problems) for c in spec.clients)
    clients = len(spec.clients) + len(spec.hosts) + len(spec.milestone)
    out.print(
        f"[bold green]✓[/] wrote {escape(str(args.out))}: {len(spec.devices)} devices, {clients} clients, "
        f"{problems} seeded problems"
    )
    out.print(f"  serve it:    enforce lab serve {escape(str(args.out))}")
    out.print(f"  then check:  enforce validate {escape(str(args.out / 'site.yml'))}")
    return EXIT_OK


def _serve(args: argparse.Namespace, out: Console, err: Console) -> int:
    # Imported here: the simulators are only needed to serve, not to generate or for any other command.
    from rich.markup import escape

    from enforcer.lab.fleet import LabError
    from enforcer.lab.serve import SPEC_FILE, serve

    if not (args.directory / SPEC_FILE).is_file():
        spec = escape(str(args.directory / SPEC_FILE))
        err.print(f"[bold red]error:[/] {spec} not found: run enforce lab generate first")
        return EXIT_ERROR
    ready = threading.Event()
    announce = threading.Thread(target=_announce, args=(args.directory, ready, out), daemon=True)
    announce.start()
    try:
        serve(args.directory, time_scale=args.time_scale, ready=ready, base=args.base)
    except (OSError, LabError) as exc:
        err.print(f"[bold red]error:[/] the lab could not start: {escape(str(exc))}")
        return EXIT_ERROR
    out.print("lab stopped")
    return EXIT_OK


def _base(text: str) -> int | Literal["auto"]:
    if text == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"--base takes a number (the N of 127.N.x.y) or auto, not {text!r}") from None


def _announce(directory: Path, ready: threading.Event, out: Console) -> None:
    from rich.markup import escape

    ready.wait()
    info = json.loads((directory / "lab.ready.json").read_text(encoding="utf-8"))
    out.print(
        f"[bold green]lab ready:[/] {len(info['devices'])} devices, "
        f"{len(info['clients']) + len(info.get('milestone', []))} clients "
        f"(details in {escape(str(directory / 'lab.ready.json'))}; Ctrl-C to stop)"
    )
