"""The generator's XProtect servers (``--clients milestone``): one per site, and how the repo names it.

Each site gets ``xprotect-NNN`` at ``.254`` of its block, over HTTPS with the lab's certificate, storing
every device of the site as ``admin`` with the device's current password: stale as soon as enforcer
changes it. Its recording server logs into each enabled item from that address. The inventory names it
as an MSP would: a ``kind: milestone`` client with its service account's password in the vault.

Milestone stores letters and digits only, so a fleet with these servers draws no other password.
"""

from __future__ import annotations

import random
import uuid
from typing import Protocol

from enforcer.lab.generate.models import FAMILY
from enforcer.lab.spec import LabDevice, LabHardware, LabMilestone, LabSpec

__all__ = ["MILESTONE_OCTET", "add_milestone"]

MILESTONE_INTERVAL = 10.0  # the recording server's login interval (device seconds)
MILESTONE_OCTET = 254  # the server's address in its site's block: past any camera a site may have with it
MILESTONE_PORT = 10443
MILESTONE_USER = "enforcer-svc"


class Fleet(Protocol):
    """What the generator is building: its random stream, the lab's spec, and the secrets its vault will hold."""

    rng: random.Random
    spec: LabSpec
    desired: dict[str, str]  # vault key ("name/account") -> password

    def password(self) -> str:
        """A fresh password every vendor, and Milestone, accepts."""
        ...


def add_milestone(
    fleet: Fleet, site: str, tag: str, net: tuple[str, str], devices: list[LabDevice], lines: list[str]
) -> LabMilestone:
    """Add site ``site``'s XProtect server storing ``devices``; ``net`` is the block's (real, inventory) prefix."""
    name, (real, written) = f"xprotect-{tag}", net
    password = fleet.password()
    hardware = []
    for device in devices:
        admin = next(a for a in device.accounts if a.name == "admin")
        hardware.append(
            LabHardware(
                id=str(uuid.UUID(int=fleet.rng.getrandbits(128), version=4)),
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
        site=site,
        address=f"{real}.{MILESTONE_OCTET}",
        port=MILESTONE_PORT,
        scheme="https",
        username=MILESTONE_USER,
        password=password,
        hardware=hardware,
        poll_seconds=MILESTONE_INTERVAL,
    )
    fleet.spec.milestone.append(server)
    fleet.desired[f"{name}/{MILESTONE_USER}"] = password
    if "    clients:" not in lines:
        lines.append("    clients:")
    lines += [
        f"      {name}:",
        "        kind: milestone",
        f'        url: "https://{written}.{MILESTONE_OCTET}:{MILESTONE_PORT}"',
        f"        username: {MILESTONE_USER}",
        f'        password: !secret "vault:{{{{ vault }}}}#{name}/{MILESTONE_USER}"',
        "        tls: {ca: ../lab.cert.pem}",
        f"        holds: [{', '.join(h.device for h in hardware)}]",
    ]
    return server
