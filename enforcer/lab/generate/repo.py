"""Writing a generated fleet to disk as an MSP keeps it: a git repository with vaults, and the lab's spec.

Apart from the generator so the repository's layout and templates read in one place. Passwords only
ever reach the disk encrypted (the vaults) or in the lab's own ``lab.spec.json``, which the
repository's ``.gitignore`` keeps out of git.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import yaml

from enforcer.config import vault
from enforcer.credentials.secret import Secret
from enforcer.credentials.store import CredentialStore
from enforcer.lab.firmware import build_image
from enforcer.lab.generate.models import Family, Model
from enforcer.lab.generate.profile import LockDefault, default_lock
from enforcer.lab.network import vars_text
from enforcer.lab.spec import LabSpec

__all__ = ["GROUP_NAMES", "Built", "lock_text", "write_repo"]

HTTP_PORT = 10080
#: The inventory group a site joins when its vendor's lock defaults differ from the fleet's defaults.
GROUP_NAMES: dict[Family, str] = {"isapi": "hikvision-annke", "dahua": "dahua-amcrest"}
_GROUP_TEXT: dict[Family, str] = {
    "isapi": "Hikvision and Annke sites: cameras ship locking for 30 minutes after 7 failures.",
    "dahua": "Dahua and Amcrest sites: cameras ship locking for 5 minutes after 5 failures.",
}


class Built(Protocol):
    """What the generator built: the lab's devices, the inventory's site text, passwords for the vaults."""

    rng: random.Random
    spec: LabSpec
    desired: dict[str, str]  # "device/account" -> password
    store: list[tuple[str, str, str, str | None]]  # device id, account, current, previous
    models: dict[str, Model]
    sites_yaml: list[str]  # each site's block of the inventory, in order


def lock_text(lock: Mapping[str, int | bool]) -> str:
    """A flow mapping such as ``{max_attempts: 7}``."""
    return "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in lock.items()) + "}"


def _differs(lock: LockDefault, base: LockDefault) -> LockDefault:
    return {k: v for k, v in lock.items() if v != base.get(k)}


_HEADER = """\
# $organisation: a simulated fleet written by the enforcer lab generator; regenerate it with
#   enforce lab generate $command --out DIR
# Each device listens on its own loopback address (see lab.spec.json beside this repository).
# Desired passwords live in secrets/fleet.vault, one key per device/account; what each device has
# now lives in the credential store. The vault password is .vault-password, kept out of git.
organisation: $organisation_yaml
vault_password: !secret "file:.vault-password"
credential_store: credentials.vault

vars:
  vault: secrets/fleet.vault

defaults:
  accounts:
    admin: {level: administrator, password: !secret "vault:{{ vault }}#{{ device }}/admin"}
  recorders:
    accounts:
      operator: {level: operator, password: !secret "vault:{{ vault }}#{{ device }}/operator"}
  cameras:
    lock_policy: $camera_lock
  lock_policy: $lock
  isolation: ip_filter
  unlock: wait
  port: $port
$groups
firmware:
"""

_PLAYBOOK = """\
# Converge the generated fleet: enforce plan site.yml, then enforce apply site.yml.
- name: $play_yaml
  inventory: inventory
  sites: ["*"]
  enforce: [firmware, lock_policy, credentials]
  serial: [1, "10%", "100%"]      # one canary site, then a tenth of the fleet, then the rest
  max_fail_percentage: 10
  concurrency: 20
"""

_GITIGNORE = """\
# The vault password never goes into git: CI and each engineer provide it. It lives inside the
# inventory folder because an inventory may name no file outside it.
/inventory/.vault-password
# The lab beside the repository: lab.spec.json (the simulated devices, passwords in clear), and what
# `enforce lab serve` writes (state, events, certificate).
/lab.*
# enforce's run journal: local to the machine that applies.
/inventory/.enforcer/
"""


def _groups(family: Family, grouped: Sequence[Family]) -> str:
    """The ``groups:`` section giving sites of another family their own lock defaults ("" if none)."""
    text = []
    for other in grouped:
        roles = []
        for role in ("recorder", "camera"):
            lock = _differs(default_lock(other, role), default_lock(family, role))
            roles += [f"      {role}s:", f"        lock_policy: {lock_text(lock)}"] if lock else []
        text += [f"  {GROUP_NAMES[other]}:", f"    description: {json.dumps(_GROUP_TEXT[other])}"]
        text += ["    defaults:", *roles] if roles else ["    defaults: {}"]
    return "\ngroups:\n" + "\n".join(text) + "\n" if text else ""


#: Devices per inventory file (and vault file): 4,000 devices' sites and passwords stay well under the
#: loader's size limit for one file (:data:`enforcer.config.limits.MAX_FILE_BYTES`).
DEVICES_PER_FILE = 4000


def _parts(built: Built) -> list[tuple[list[str], set[str]]]:
    """The sites' blocks in parts of at most :data:`DEVICES_PER_FILE` devices (a site is never split),
    each with the names of what its sites hold (devices, clients, hosts, XProtect servers: the vault keys
    ``NAME/ACCOUNT`` of the part's vault)."""
    devices: dict[str, int] = {}
    owners: dict[str, set[str]] = {}
    for device in built.spec.devices:
        devices[device.site] = devices.get(device.site, 0) + 1
    spec = built.spec
    held = [(d.site, d.name) for d in spec.devices] + [(c.site, c.name) for c in spec.clients]
    held += [(h.site, h.name) for h in spec.hosts] + [(m.site, m.name) for m in spec.milestone]
    for site, name in held:
        owners.setdefault(site, set()).add(name)
    parts: list[tuple[list[str], set[str]]] = [([], set())]
    size = 0
    for block in built.sites_yaml:
        site = _site_of(block)
        if parts[-1][0] and size + devices.get(site, 0) > DEVICES_PER_FILE:
            parts.append(([], set()))
            size = 0
        parts[-1][0].append(block)
        parts[-1][1].update(owners.get(site, set()))
        size += devices.get(site, 0)
    return parts


def _site_of(block: str) -> str:
    """The site a block defines: its first line indented by two (``  site-001:``)."""
    return next(line.strip().rstrip(":") for line in block.splitlines() if line.startswith("  ") and line[2] != " ")


def _with_vars(block: str, variable: str) -> str:
    """The site block with ``vars: {variable}`` as its first key."""
    lines = block.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("  ") and line[2] != " ") + 1
    return "\n".join([*lines[:at], f"    vars: {{{variable}}}", *lines[at:]])


def _vault_file(number: int) -> str:
    return "secrets/fleet.vault" if number == 1 else f"secrets/fleet-{number:03}.vault"


def _version(text: str) -> str:
    """A firmware version as YAML: bare when it reads back as the same string, quoted otherwise."""
    return text if yaml.safe_load(text) == text else json.dumps(text)


def write_repo(
    out: Path, built: Built, *, organisation: str, command: str, family: Family, grouped: Sequence[Family] = ()
) -> None:
    """Write the repository and ``lab.spec.json`` into ``out`` (missing or empty).

    ``family`` gives the inventory's defaults; each family in ``grouped`` gets a group of its own.
    """
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: generate into a new folder")
    inventory = out / "inventory"
    for folder in (inventory / "secrets", inventory / "firmware"):
        folder.mkdir(parents=True, exist_ok=True)
    rng = built.rng
    password = "".join(rng.choices(string.ascii_letters + string.digits, k=32))
    fd = os.open(inventory / ".vault-password", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(password + "\n")
    (out / ".gitignore").write_text(_GITIGNORE, encoding="utf-8")
    values = {"organisation": organisation, "organisation_yaml": json.dumps(organisation), "command": command}
    values |= {"port": str(HTTP_PORT), "play_yaml": json.dumps(f"Converge every site of {organisation}")}
    recorder, camera = default_lock(family, "recorder"), default_lock(family, "camera")
    values |= {"lock": lock_text(recorder), "camera_lock": lock_text(_differs(camera, recorder))}
    values["groups"] = _groups(family, grouped)
    text = [string.Template(_HEADER).substitute(values)]
    for model in sorted(built.models.values(), key=lambda m: m.name):
        image = f"firmware/{model.name}_{model.version}.dav"
        data = build_image(model.name, model.version, model.build, rng.randbytes(4096))
        (inventory / image).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        text.append(f'  {model.name}: {{version: {_version(model.version)}, image: {image}, sha256: "{digest}"}}\n')
    parts = _parts(built)
    text.append("\nsites:")
    text.append("\n".join(parts[0][0]) + "\n")
    (inventory / "fleet.yml").write_text("".join(text), encoding="utf-8")
    for number, (blocks, _) in enumerate(parts[1:], 2):
        head = f"# Sites of {organisation}, part {number} (written by the lab generator: see fleet.yml)\nsites:"
        named = [_with_vars(block, f"vault: {_vault_file(number)}") for block in blocks]
        (inventory / f"sites-{number:03}.yml").write_text(head + "\n".join(named) + "\n", encoding="utf-8")
    if built.spec.vars_file:
        (out / built.spec.vars_file).write_text(vars_text(built.spec), encoding="utf-8")
    (out / "site.yml").write_text(string.Template(_PLAYBOOK).substitute(values), encoding="utf-8")

    key = password.encode("utf-8")
    owned = set().union(*(names for _, names in parts))
    for number, (_, names) in enumerate(parts, 1):
        # a key that is no site's (the fleet's SSH key) is in every part's vault
        desired = {
            k: v for k, v in built.desired.items() if k.partition("/")[0] in names or k.partition("/")[0] not in owned
        }
        plain = yaml.safe_dump(desired, sort_keys=True, allow_unicode=True).encode("utf-8")
        (inventory / _vault_file(number)).write_text(vault.encrypt(plain, key), encoding="ascii")
    store = CredentialStore(inventory / "credentials.vault", key)
    for device_id, account, current, previous in built.store:
        if previous is not None:  # a rotation recorded, never applied: previous is what the device has
            store.set_current(device_id, account, Secret(previous, "lab generator"))
        store.set_current(device_id, account, Secret(current, "lab generator"))
    store.save()
    built.spec.save(out / "lab.spec.json")
