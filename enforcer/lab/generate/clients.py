"""The clients ``enforce lab generate --clients LIST`` adds to every site: one writer per kind.

Each writer adds one kind of client to a site being built: the lab's simulated client (what it really
stores and logs in with: the site's *current* credentials, stale once enforcer changes them) and the
inventory's entry for it (secrets in the vault). A new kind is a writer here and one line in
:data:`WRITERS`; :func:`parse_clients` reads the option from that table, so the two never disagree.

- ``viewer``: a desktop or phone viewer holding the recorder's ``operator`` password, a ``manual`` client
  in the inventory (the ``stale_viewer`` problem writes the same, with a password about to change);
- ``milestone``: an XProtect management server on the site's ``.254``, over HTTPS with the lab's
  certificate, storing every device of the site as ``admin``; its recording server logs into each one.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from enforcer.lab.generate.models import FAMILY, VIEWERS
from enforcer.lab.spec import LabClient, LabDevice, LabHardware, LabMilestone, LabSpec

__all__ = ["CLIENT_KINDS", "MILESTONE_HOST", "WRITERS", "SiteBuild", "parse_clients", "viewer"]

VIEWER_INTERVAL = 5.0
MILESTONE_INTERVAL = 10.0  # the recording server's login interval (device seconds)
MILESTONE_HOST = 254  # the last octet of a site's Milestone server
MILESTONE_PORT = 10443
MILESTONE_USER = "enforcer-svc"


class Fleet(Protocol):
    """What a writer needs of the fleet being generated."""

    rng: random.Random
    spec: LabSpec
    desired: dict[str, str]  # vault key ("name/account") -> password

    def password(self) -> str:
        """A fresh password every vendor, and Milestone, accepts."""


@dataclass
class SiteBuild:
    """One site as it is built: its devices, and the inventory lines of its ``clients:`` section."""

    fleet: Fleet
    name: str  # site-001
    tag: str  # 001
    index: int  # from 0
    vendor: str
    net: str  # the site's addresses' prefix: 127.10.0
    template: str  # the same as the inventory writes it: {{ lab }}.0
    recorder: LabDevice
    cameras: list[LabDevice]
    lines: list[str]


def viewer(site: SiteBuild, problems: Sequence[str] = ()) -> None:
    """A viewer app holding the recorder's ``operator`` password, on a source of its own (``127.200+``)."""
    count = sum(1 for c in site.fleet.spec.clients if c.site == site.name and c.kind == "viewer")
    name = f"viewer-{site.tag}" + (f"-{count + 1}" if count else "")
    source = f"127.{200 + site.index // 250}.{site.index % 250}.{10 + count}"
    operator = site.recorder.accounts[1]
    client = LabClient(name, site.name, "viewer", source, site.recorder.name, operator.name, operator.password)
    client.interval_seconds, client.problems = VIEWER_INTERVAL, list(problems)
    site.fleet.spec.clients.append(client)
    what = site.fleet.rng.choice(VIEWERS[site.vendor])
    lines = [f"      {name}:", "        kind: manual", f"        what: {json.dumps(what)}"]
    lines += [f"        address: {source}", '        contact: "site manager"']
    lines += [f"        holds: [{{device: {site.recorder.name}, user: {operator.name}}}]"]
    site.lines += lines


def milestone(site: SiteBuild) -> None:
    """An XProtect server storing every device of the site as ``admin``, with its actual password."""
    fleet, rng = site.fleet, site.fleet.rng
    name = f"xprotect-{site.tag}"
    password = fleet.password()
    hardware = []
    for device in [site.recorder, *site.cameras]:
        admin = next(a for a in device.accounts if a.name == "admin")
        hardware.append(
            LabHardware(
                id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                device=device.name,
                name=f"{device.model} ({device.name})",
                address=device.address,
                port=device.port,
                user="admin",
                password=admin.password,
                driver="dahua" if FAMILY[device.vendor] == "dahua" else "hikvision",
                model=device.model,
            )
        )
    server = LabMilestone(
        name=name,
        site=site.name,
        address=f"{site.net}.{MILESTONE_HOST}",
        port=MILESTONE_PORT,
        scheme="https",
        username=MILESTONE_USER,
        password=password,
        hardware=hardware,
        poll_seconds=MILESTONE_INTERVAL,
    )
    fleet.spec.milestone.append(server)
    fleet.desired[f"{name}/{MILESTONE_USER}"] = password
    holds = ", ".join(h.device for h in hardware)
    site.lines += [
        f"      {name}:",
        "        kind: milestone",
        f'        url: "https://{site.template}.{MILESTONE_HOST}:{MILESTONE_PORT}"',
        f"        username: {MILESTONE_USER}",
        f'        password: !secret "vault:{{{{ vault }}}}#{name}/{MILESTONE_USER}"',
        "        tls: {ca: ../lab.cert.pem}",
        f"        holds: [{holds}]",
    ]


#: Each client kind ``--clients`` takes, and what adds it to a site.
WRITERS: dict[str, Callable[[SiteBuild], None]] = {
    "milestone": milestone,
    "viewer": viewer,
}
CLIENT_KINDS = tuple(WRITERS)


def parse_clients(text: str) -> tuple[str, ...]:
    """A ``--clients`` value: a comma list of :data:`CLIENT_KINDS`, in their table order; ValueError otherwise."""
    names = [k.strip() for k in text.split(",") if k.strip()]
    return check_clients(names)


def check_clients(kinds: Sequence[str]) -> tuple[str, ...]:
    unknown = [k for k in kinds if k not in WRITERS]
    if unknown:
        raise ValueError(f"unknown client kind {', '.join(map(repr, unknown))}: choose from {', '.join(CLIENT_KINDS)}")
    return tuple(k for k in CLIENT_KINDS if k in kinds)
