"""``enforce demo``: the whole story on a small lab, in one command and under a minute.

Act 1 changes passwords the naive way on a lab fleet and shows the lockout the field knows. Act 2
runs plan → apply → plan on a fresh copy of the same fleet and shows, from the lab's own events
file, that nothing locked and enforcer never failed a login.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from enforcer.cli._common import EXIT_ERROR, EXIT_OK

if TYPE_CHECKING:
    from rich.console import Console

    from enforcer.lab.spec import LabDevice

SCALE = 0.01  # one device minute lasts 0.6 s
PROBLEMS = ("stale_viewer", "stale_channel", "old_firmware", "lock_disabled")
ENFORCER = "127.0.0.1"
VENDOR = "mixed"  # site 1 Hikvision (locks the source address), site 2 Dahua (locks the account)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    demo = commands.add_parser(
        "demo", help="The whole story on a small built-in lab, in one command.", description=__doc__
    )
    demo.add_argument("--dir", type=Path, help="keep the lab fleets here (default: a temporary folder)")
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        return _safely(args.dir, out, err)
    with tempfile.TemporaryDirectory(prefix="enforce-demo-") as folder:
        return _safely(Path(folder), out, err)


def _safely(root: Path, out: Console, err: Console) -> int:
    """The demo; a lab that cannot start is one line, not a traceback."""
    from rich.markup import escape

    from enforcer.lab.fleet import LabError

    try:
        return _demo(root, out, err)
    except LabError as exc:
        err.print(f"[bold red]error:[/] the lab could not start: {escape(str(exc))}")
        return EXIT_ERROR


def _demo(root: Path, out: Console, err: Console) -> int:
    from rich.panel import Panel

    from enforcer.lab.fleet import Fleet
    from enforcer.lab.generate.generator import generate

    started = time.monotonic()
    out.print(
        Panel.fit(
            "[bold]enforcer demo[/]: two customer sites on the built-in lab, one Hikvision\n"
            "and one Dahua, each with a recorder, three cameras and a viewer app.\n"
            "Every device speaks its real protocol on its own loopback address;\n"
            f"time runs {1 / SCALE:.0f}x fast, so a 30-minute lock lasts {30 * 60 * SCALE:.0f} s.",
        )
    )
    seed = _seed()
    naive = generate(root / "naive", sites=2, cameras=3, seed=seed, problems=PROBLEMS, vendor=VENDOR)
    out.rule("[bold]Act 1: a password change, the usual way[/]")
    with Fleet(naive, time_scale=SCALE, directory=root / "naive") as fleet:
        nvr = next(d for d in naive.devices if _tells_the_story(d))
        cam = next(d for d in naive.devices if "stale_channel" in d.problems)
        viewer = next(c for c in naive.clients if c.target == nvr.name)
        out.print(
            f"A technician changes [bold]{nvr.name}[/]'s operator password and [bold]{cam.name}[/]'s admin "
            "password on the devices' web pages. Nobody updates the viewer at reception, nor the recorder's "
            "stored password for that camera."
        )
        fleet.set_account_password(nvr.name, viewer.user, "Changed-by-hand1")
        fleet.set_account_password(cam.name, "admin", "Changed-by-hand2")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(_locks(fleet.read_events())) < 2:
            time.sleep(0.2)
            fleet.flush()
        events = fleet.read_events()
    for lock in _locks(events):
        who = "the viewer" if lock["source"] == viewer.source else "its recorder"
        count = sum(
            1
            for e in events
            if e["event"] == "auth_failed"
            and e["time"] <= lock["time"]
            and (e["device"], e["source"]) == (lock["device"], lock["source"])
        )
        if str(lock.get("key", "")).startswith("user:"):  # Dahua: the account, for every source
            whom = f"the [bold]{lock['user']}[/] account out for everyone"
        else:
            whom = f"{who} ({lock['source']}) out"
        out.print(
            f"  [bold red]✗ {lock['device']} locked[/] {whom} after {count} failed logins by {who} "
            "with the old password."
        )
    if len(_locks(events)) < 2:
        err.print("[bold red]the naive change did not lock the lab as expected[/]")
        return EXIT_ERROR
    out.print(
        "That is the outage: the camera drops off the recorder, the viewer goes dark, and a reboot does not "
        "help, because the stale clients lock the devices again at once.\n"
    )

    out.rule("[bold]Act 2: the same change with enforcer[/]")
    fresh = root / "fleet"
    spec = generate(fresh, sites=2, cameras=3, seed=seed, problems=PROBLEMS, vendor=VENDOR)
    playbook = str(fresh / "site.yml")
    with Fleet(spec, time_scale=SCALE, directory=fresh) as fleet:
        from enforcer.cli import main

        out.print(f"[bold]$ enforce plan {playbook}[/]   [dim]# a dry run: facts, then the masked, ordered diff[/]")
        code = main(["plan", playbook, "--time-scale", str(SCALE)])
        out.print(f"[dim]exit {code}: 2 means changes are pending[/]\n")
        out.print(f"[bold]$ enforce apply {playbook} --yes[/]")
        applied = main(["apply", playbook, "--yes", "--time-scale", str(SCALE)])
        out.print(f"\n[bold]$ enforce plan {playbook}[/]   [dim]# again: nothing left to do[/]")
        again = main(["plan", playbook, "--time-scale", str(SCALE)])
        fleet.flush()
        events = fleet.read_events()
    ours = [e for e in events if e["event"] == "auth_failed" and e["source"] == ENFORCER]
    locks = _locks(events)
    out.rule("[bold]what the lab saw[/]")
    out.print(
        f"  locks during the run: [bold]{len(locks)}[/]; failed logins from enforcer: [bold]{len(ours)}[/]; "
        f"blocked stale requests: {sum(1 for e in events if e['event'] == 'blocked')}"
    )
    # Dahua cannot set another account's password without the old one: it is deleted and added again.
    rotated = sum(1 for e in events if e["event"] in ("account_changed", "account_added"))
    out.print(
        f"  passwords rotated: {rotated}, firmware upgraded: "
        f"{sum(1 for e in events if e['event'] == 'firmware_changed')}"
    )
    ok = applied == 0 and again == 0 and code == 2 and not locks and not ours
    verdict = "[bold green]converged without a single lockout[/]" if ok else "[bold red]something went wrong[/]"
    out.print(
        Panel.fit(
            f"{verdict} in {time.monotonic() - started:.0f} s.\nOn your own repo: enforce plan playbooks/site.yml"
        )
    )
    return EXIT_OK if ok else EXIT_ERROR


def _tells_the_story(device: LabDevice) -> bool:
    """A Dahua recorder that locks the whole account, with a stale viewer on it."""
    return (
        device.vendor == "dahua"
        and "stale_viewer" in device.problems
        and device.lock_policy.enabled
        and device.profile.lock_scope == "account"
    )


def _seed() -> int:
    """The first seed whose fleet tells the story (see :func:`_tells_the_story`)."""
    from enforcer.lab.generate.generator import generate

    for seed in range(42, 242):
        with tempfile.TemporaryDirectory() as folder:
            spec = generate(Path(folder) / "probe", sites=2, cameras=3, seed=seed, problems=PROBLEMS, vendor=VENDOR)
        if any(_tells_the_story(d) for d in spec.devices):
            return seed
    raise RuntimeError("no seed tells the story")  # pragma: no cover


def _locks(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "locked"]
