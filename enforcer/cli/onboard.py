"""``enforce init`` and ``enforce import``: from nothing to an MSP repository that holds a site.

``init DIR`` writes the repository: an inventory whose accounts the credential store owns, a playbook, a
vault for the other secrets, the credential store, the vault password (kept out of git), ``.gitignore``,
a pre-commit hook and a CI workflow. ``import PLAYBOOK`` reads a site's devices with the passwords the MSP
has today (one attempt each, through the login guard) and writes the site's inventory file and each
device's working password to the credential store as current; ``enforce rotate`` then replaces them.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from enforcer.cli._common import EXIT_ERROR, EXIT_OK, add_playbook_arguments, load, report_problems
from enforcer.errors import EnforcerError

if TYPE_CHECKING:
    from rich.console import Console

    from enforcer.credentials.secret import Secret
    from enforcer.engine.onboard import Found

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

_INVENTORY = """\
# The $organisation fleet. Sites come from `enforce import` (one file each), or are written by hand.
# Device accounts declared !secret "store:" have their password in the credential store, which
# `enforce import` fills with what the devices take today and `enforce rotate` replaces; any other secret
# (a VMS service account, say) is a reference into secrets/$organisation.vault (ansible-vault edit it).
organisation: $organisation
vault_password: !secret "file:.vault-password"
credential_store: credentials.vault
vars: {vault: secrets/$organisation.vault}

defaults:
  accounts:
    admin: {level: administrator, password: !secret "store:"}
  lock_policy: {enabled: true, max_attempts: 5, lock_minutes: 30}
  isolation: ip_filter
  unlock: wait
"""

_PLAYBOOK = """\
# enforce plan playbooks/site.yml; enforce apply playbooks/site.yml; enforce rotate playbooks/site.yml
- name: Converge every $organisation site
  inventory: ../inventory
  sites: ["*"]
  enforce: [firmware, lock_policy, credentials]
  serial: [1, "25%", "100%"]      # one canary site first
  max_fail_percentage: 10
"""

_GITIGNORE = """\
# The vault password never goes into git: CI and each engineer provide it.
/inventory/.vault-password
.vault-password
# enforce's run journal and site locks: local to the machine that applies.
.enforcer/
"""

#: The CI examples the repository gets, from examples/gitops (shipped in the wheel as enforcer/_gitops).
_CI = {"github-actions.yml": ".github/workflows/enforce.yml", "pre-commit-config.yaml": ".pre-commit-config.yaml"}


class _Vendors:
    """The registered vendors, as ``--vendor``'s choices: read from the registry when a value is checked or
    the choices are shown, not when the command line is built (for every command and ``--version``)."""

    def __contains__(self, vendor: object) -> bool:
        from enforcer.drivers.registry import vendors

        return vendor in vendors()

    def __iter__(self) -> Iterator[str]:
        from enforcer.drivers.registry import vendors

        return iter(vendors())


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    init = commands.add_parser(
        "init",
        help="Scaffold an MSP repository: inventory, playbook, vault, credential store, .gitignore, CI.",
        description="Write a new MSP repository into DIR (missing or empty): inventory/ (accounts the credential "
        "store owns), playbooks/site.yml, an encrypted vault and credential store with a new vault password in "
        "inventory/.vault-password (kept out of git by .gitignore), a pre-commit hook and a GitHub Actions workflow.",
    )
    init.add_argument("dir", type=Path, metavar="DIR")
    init.add_argument("--organisation", default="msp", metavar="NAME", help="the MSP's name (default msp)")
    init.set_defaults(run=run_init)

    imp = commands.add_parser(
        "import",
        help="Read a site's devices with the passwords you have today; write its inventory and the store.",
        description="Read the devices at the given addresses, or a recorder and the cameras its channels log "
        "into, trying each known password once per device through the login guard (never the last two "
        "attempts); write inventory/SITE.yml and record each device's working password in the credential "
        "store as current. Nothing on any device is changed. Exit 1 if a device could not be read.",
    )
    add_playbook_arguments(imp)
    imp.add_argument("--site", required=True, metavar="NAME", help="the site's name in the inventory")
    vendor = {"choices": _Vendors(), "metavar": "VENDOR"}  # a metavar: argparse lists no choices to build
    imp.add_argument("--vendor", required=True, help="the devices' vendor: %(choices)s", **vendor)
    imp.add_argument("--camera-vendor", help="the cameras' vendor, if not --vendor", **vendor)
    imp.add_argument("--recorder", metavar="ADDRESS", help="a recorder: its channels name the cameras to read")
    imp.add_argument("--address", action="append", default=[], metavar="ADDRESS", help="a device (repeatable)")
    imp.add_argument("--port", type=int, default=80, help="the devices' HTTP port (default 80)")
    imp.add_argument("--user", default="admin", help="the account to log in as (default admin)")
    imp.add_argument(
        "--passwords",
        type=Path,
        required=True,
        metavar="FILE",
        help="the passwords you have today, one per line: an Ansible Vault file (opened with the vault "
        "password), or a plain file you delete afterwards",
    )
    imp.add_argument("--source-address", metavar="IP", help="bind connections to devices to this local address")
    imp.add_argument("--time-scale", type=float, default=1.0, metavar="F", help="as apply, for the lab")
    imp.set_defaults(run=run_import)


def run_init(args: argparse.Namespace, out: Console, err: Console) -> int:
    from rich.markup import escape

    from enforcer.config import vault

    root: Path = args.dir
    organisation = args.organisation
    if not _NAME.match(organisation):
        err.print("[bold red]error:[/] --organisation: lower-case letters, digits and -, up to 63 characters")
        return EXIT_ERROR
    if root.exists() and any(root.iterdir()):
        err.print(f"[bold red]error:[/] {escape(str(root))} is not empty: init writes a new repository")
        return EXIT_ERROR
    inventory = root / "inventory"
    (inventory / "secrets").mkdir(parents=True)
    (root / "playbooks").mkdir()
    password = secrets.token_urlsafe(32)
    fd = os.open(inventory / ".vault-password", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(password + "\n")
    values = {"organisation": organisation}
    (inventory / f"{organisation}.yml").write_text(_fill(_INVENTORY, values), encoding="utf-8")
    (root / "playbooks" / "site.yml").write_text(_fill(_PLAYBOOK, values), encoding="utf-8")
    (root / ".gitignore").write_text(_GITIGNORE, encoding="utf-8")
    key = password.encode()
    (inventory / "secrets" / f"{organisation}.vault").write_text(vault.encrypt(b"{}\n", key), encoding="ascii")
    from enforcer.credentials.store import CredentialStore

    CredentialStore(inventory / "credentials.vault", key).save()
    for name, target in _CI.items():
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_ci_example(name), encoding="utf-8")
    out.print(f"[bold green]✓[/] {escape(str(root))}: a new repository for {escape(organisation)}")
    out.print("  the vault password is inventory/.vault-password (kept out of git): store it in your CI's secrets")
    out.print(
        f"  next: enforce import {escape(str(root / 'playbooks' / 'site.yml'))} --site NAME --vendor V "
        "--recorder ADDRESS --passwords FILE"
    )
    return EXIT_OK


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(f"${key}", value)
    return template


def _ci_example(name: str) -> str:
    """A CI example as the wheel ships it, else from the source tree's examples/gitops."""
    shipped = resources.files("enforcer") / "_gitops" / name
    if shipped.is_file():
        return shipped.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "examples" / "gitops" / name).read_text(encoding="utf-8")


def run_import(args: argparse.Namespace, out: Console, err: Console) -> int:
    from rich.markup import escape

    from enforcer.credentials.backends import open_store
    from enforcer.drivers.base import DriverOptions
    from enforcer.engine.onboard import import_site, site_yaml

    if not _NAME.match(args.site):
        err.print("[bold red]error:[/] --site: lower-case letters, digits and -, up to 63 characters")
        return EXIT_ERROR
    if not args.recorder and not args.address:
        err.print("[bold red]error:[/] give --recorder ADDRESS or --address ADDRESS (or both)")
        return EXIT_ERROR
    playbook, diagnostics = load(args, err)
    if playbook is None:
        report_problems(args, diagnostics, err)
        return EXIT_ERROR
    inventory = playbook.plays[0].inventory
    folder = Path(inventory.path) if Path(inventory.path).is_dir() else Path(inventory.path).parent
    target = folder / f"{args.site}.yml"
    if target.exists() or inventory.site(args.site) is not None:
        err.print(f"[bold red]error:[/] site {escape(args.site)} is in the inventory already ({escape(str(target))})")
        return EXIT_ERROR
    try:
        passwords = _passwords(args.passwords, inventory.vault_password)
    except (OSError, EnforcerError, UnicodeDecodeError) as exc:
        err.print(f"[bold red]error:[/] --passwords {escape(str(args.passwords))}: {escape(str(exc))}")
        return EXIT_ERROR

    def show(item: Found) -> None:
        if item.facts is not None:
            out.print(f"  ✓ {item.name} {item.device.address}: {escape(item.facts.model)}, a known password works")
        else:
            err.print(f"  ✗ {item.name} {item.device.address}: {escape(item.reason)}")

    try:  # no site lock: the site is not in the inventory yet, so no other run can be working on it
        found = import_site(
            args.site,
            args.vendor,
            args.address,
            passwords,
            port=args.port,
            user=args.user,
            recorder=args.recorder,
            camera_vendor=args.camera_vendor,
            options=DriverOptions(source_address=args.source_address),
            time_scale=args.time_scale,
            progress=show,
        )
        store = open_store(inventory)
        for item in found:
            if item.password is not None:
                store.set_current(item.device.id, args.user, item.password)
        store.save()
    except EnforcerError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        return EXIT_ERROR
    target.write_text(site_yaml(args.site, found, args.port), encoding="utf-8")
    read = sum(1 for f in found if f.facts is not None)
    out.print(f"{escape(str(target))}: {read} of {len(found)} devices; their passwords are in the credential store")
    return EXIT_OK if read == len(found) else EXIT_ERROR


def _passwords(path: Path, vault_password: Secret | None) -> list[Secret]:
    import yaml

    from enforcer.config import vault
    from enforcer.credentials.secret import Secret

    """The candidate passwords, in the order given; a vault file is opened with the inventory's password."""
    text = path.read_text(encoding="utf-8")
    if vault.is_vault(text):
        if vault_password is None:
            raise EnforcerError("an encrypted file needs the vault password")
        text = vault.decrypt(text, vault_password.reveal().encode()).decode("utf-8")
        data = yaml.safe_load(text)
        if isinstance(data, list):
            text = "\n".join(str(x) for x in data)
    values = list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
    if not values:
        raise EnforcerError("holds no password")
    return [Secret(v, f"import:{path.name}#{i}") for i, v in enumerate(values, 1)]
