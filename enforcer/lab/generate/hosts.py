"""The generator's Linux hosts (``--clients ssh``): a Frigate-like host per site, and how the repo names it.

Each site gets ``frigate-NNN`` at ``.250`` of its block (its sshd listens there on port 2222, and its
camera logins come from there), holding every camera of the site as ``admin`` with the camera's current
password: stale as soon as enforcer changes it. The inventory names it as an MSP would: a ``kind: ssh``
client logging in as this machine's user with the fleet's SSH key (in the vault), the host's key in
``inventory/known_hosts``, its ``config.yml`` rendered from ``inventory/templates/frigate.yml.j2``, and
the host's ``frigatectl`` as its commands. The lab lays out the host under ``lab.hosts/NAME/`` beside
the spec, so the repository names absolute paths there: generate where the lab will be served.

Keys are drawn from the system's randomness, not the seed (as vault salts are): a seed reproduces the
fleet, not its keys.
"""

from __future__ import annotations

import getpass
import json
import shlex
from pathlib import Path
from typing import Protocol

from enforcer.lab.frigate import CONFIG, CTL, host_dir
from enforcer.lab.spec import LabDevice, LabHost, LabHostCamera, LabSpec
from enforcer.lab.sshd import host_id, host_key_pair, public_line

SSH_PORT = 2222
HOST_OCTET = 250  # the host's address in its site's block: past any camera a site may have with a host
KEY = "enforcer-ssh-key"  # the vault key of the fleet's SSH key
KNOWN_HOSTS = "inventory/known_hosts"
TEMPLATE = "templates/frigate.yml.j2"
COMMANDS = {"status": "status", "stop": "stop", "start": "start", "reload": "restart", "validate": "validate"}

FRIGATE_TEMPLATE = """\
# Frigate's config, written by enforcer from templates/frigate.yml.j2: edit the template, not the host.
# The password goes raw into ffmpeg inputs (Frigate URL-encodes it) and quoted into ONVIF.
mqtt:
  enabled: false
cameras:
{% for c in credentials %}
  {{ c.device }}:
    ffmpeg:
      inputs:
        - path: {{ ("rtsp://" ~ c.user ~ ":" ~ c.password ~ "@" ~ c.address ~ ":554/live") | tojson }}
          roles: [detect, record]
    onvif:
      host: {{ c.address }}
      port: {{ c.port }}
      user: {{ c.user | tojson }}
      password: {{ c.password | tojson }}
{% endfor %}
"""


class Fleet(Protocol):
    """What the generator is building: the lab's spec, and the secrets its vault will hold."""

    spec: LabSpec
    desired: dict[str, str]
    out: Path


def add_ssh_host(
    fleet: Fleet, site: str, tag: str, net: tuple[str, str], cameras: list[LabDevice], lines: list[str]
) -> LabHost:
    """Add site ``site``'s Frigate host holding ``cameras``; ``net`` is the block's (real, inventory) prefix."""
    if KEY not in fleet.desired:
        fleet.desired[KEY], _ = host_key_pair()
        fleet.spec.known_hosts_file = KNOWN_HOSTS
    name, (real, written) = f"frigate-{tag}", net
    private, _ = host_key_pair()
    host = LabHost(
        name=name,
        site=site,
        address=f"{real}.{HOST_OCTET}",
        ssh_port=SSH_PORT,
        login=getpass.getuser(),
        authorized_key=public_line(fleet.desired[KEY]),
        host_key=private,
        cameras=[LabHostCamera(c.name, "admin", c.accounts[0].password) for c in cameras],
        interval_seconds=5.0,
    )
    fleet.spec.hosts.append(host)
    folder = host_dir(fleet.out.resolve(), name)
    ctl = shlex.quote(str(folder / CTL))
    if "    clients:" not in lines:
        lines.append("    clients:")
    lines += [f"      {name}:", "        kind: ssh", f'        address: "{written}.{HOST_OCTET}"']
    lines += [f"        port: {SSH_PORT}", f"        user: {json.dumps(host.login)}"]
    lines += [f'        key: !secret "vault:{{{{ vault }}}}#{KEY}"']
    lines += ["        files:", f"          - {{path: {json.dumps(str(folder / CONFIG))}, template: {TEMPLATE}}}"]
    lines += [f"        {key}: {json.dumps(f'{ctl} {verb}')}" for key, verb in COMMANDS.items()]
    lines += [f"        check: {json.dumps(f'{ctl} check')}"]
    lines += [f"        holds: [{', '.join(c.name for c in cameras)}]"]
    return host


def write_hosts(out: Path, spec: LabSpec) -> None:
    """The repository's side of the hosts: the template, and known_hosts (the lab rewrites it where it serves)."""
    if not spec.hosts:
        return
    inventory = out / "inventory"
    (inventory / TEMPLATE).parent.mkdir(parents=True, exist_ok=True)
    (inventory / TEMPLATE).write_text(FRIGATE_TEMPLATE, encoding="utf-8")
    lines = [f"{host_id(h.address, h.ssh_port)} {public_line(h.host_key)}\n" for h in spec.hosts]
    head = "# The lab's Linux hosts' keys, rewritten by the lab at start where it serves them.\n"
    (out / KNOWN_HOSTS).write_text(head + "".join(lines), encoding="utf-8")
