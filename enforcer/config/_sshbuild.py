"""Building an SSH client's settings (Frigate and the like): its files, its host key, its commands.

Everything an apply would need from the repository is read and checked here, at validation: each
template is read once (inside the inventory folder) and rendered with masked passwords, and the
``known_hosts`` file must hold a key for the host, so that a host enforcer could not trust fails
``validate``, never an apply halfway through a site.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from enforcer.config import _confine, limits
from enforcer.config._yaml import KeyPath
from enforcer.config.clientfiles import render_client_file
from enforcer.config.diagnostics import Diagnostics, Location
from enforcer.credentials.secret import Secret
from enforcer.errors import TemplateError
from enforcer.model import Client, ConfigFile, Device, ServiceCommands, SshSettings

Where = Callable[[KeyPath], Location]
KNOWN_HOSTS = "known_hosts"  # the default: one file beside the inventory, as ssh keeps one per user
COMMANDS = ("status", "stop", "start", "reload")


def ssh_settings(
    base: Path, values: Mapping[str, Any], secrets: Mapping[str, Secret | None], where: Where, diagnostics: Diagnostics
) -> SshSettings:
    """The settings of one ``kind: ssh`` client from its rendered ``values`` (schema-valid)."""
    port = int(values.get("port", 22))
    files = tuple(_file(base, f, ("files", i), where, diagnostics) for i, f in enumerate(values["files"]))
    known_hosts = _known_hosts(base, values, port, where, diagnostics)
    unit = values.get("service")
    defaults = ServiceCommands.systemd(unit) if unit else None
    named = {c: values.get(c) or (getattr(defaults, c) if defaults else "") for c in COMMANDS}
    commands = ServiceCommands(**named, validate=values.get("validate"), check=values.get("check"))
    return SshSettings(
        user=values["user"],
        known_hosts=known_hosts,
        files=files,
        commands=commands,
        port=port,
        key=secrets.get("key"),
        password=secrets.get("password"),
    )


def check_files(client: Client, devices: Mapping[str, Device], where: Where, diagnostics: Diagnostics) -> None:
    """Render every file of ``client`` with masked passwords now, so a bad template fails validation."""
    assert isinstance(client.settings, SshSettings)
    for i, file in enumerate(client.settings.files):
        if not file.source:
            continue  # unreadable, and reported
        try:
            render_client_file(file.source, client, devices, lambda device, user: "***")
        except TemplateError as exc:
            shown = _confine.clip(str(file.template.name))
            diagnostics.error(where(("files", i, "template")), f"template {shown}: {exc}")


def _file(base: Path, data: Mapping[str, Any], at: KeyPath, where: Where, diagnostics: Diagnostics) -> ConfigFile:
    """One file: its template resolved inside the folder and read (an error reported, else its text)."""
    name, here = data["template"], where((*at, "template"))
    mode = data.get("mode", "0600")
    try:
        path = _confine.inside(base, name, "template")
    except _confine.PathError as exc:
        diagnostics.error(here, str(exc))
        return ConfigFile(data["path"], base / name, mode)
    shown = _confine.clip(name)
    try:
        source = _confine.read_text(path, limits.MAX_FILE_BYTES, "template", shown)
    except FileNotFoundError:
        diagnostics.error(here, f"template {shown} not found")
        source = ""
    except _confine.PathError as exc:
        diagnostics.error(here, str(exc))
        source = ""
    return ConfigFile(data["path"], base / name, mode, source)  # shown as named; its text is what counts


def host_id(address: str, port: int) -> str:
    """How known_hosts names a host: ``address``, or ``[address]:port`` off port 22 (as ssh writes it)."""
    return address if port == 22 else f"[{address}]:{port}"


def _known_hosts(base: Path, values: Mapping[str, Any], port: int, where: Where, diagnostics: Diagnostics) -> Path:
    """The known_hosts file, inside the folder, readable, and holding a key for this host."""
    name: str = values.get("known_hosts", KNOWN_HOSTS)
    here = where(("known_hosts",)) if "known_hosts" in values else where(())
    shown = _confine.clip(name)
    try:
        path = _confine.inside(base, name, "known_hosts")
        text = _confine.read_text(path, limits.MAX_FILE_BYTES, "known_hosts", shown)
    except FileNotFoundError:
        diagnostics.error(here, f"known_hosts file {shown} not found", _keyscan(values["address"], port, name))
        return base / name
    except _confine.PathError as exc:
        diagnostics.error(here, str(exc))
        return base / name
    wanted = host_id(values["address"], port)
    try:
        found = _lookup(text, wanted)
    except ValueError as exc:
        diagnostics.error(here, f"known_hosts {shown}: {exc}")
        return path
    if not found:
        diagnostics.error(
            here,
            f"known_hosts {shown} holds no key for {wanted}: enforcer connects only to a host it can verify",
            _keyscan(values["address"], port, name),
        )
    return path


def _lookup(text: str, host: str) -> bool:
    """Whether ``text`` (known_hosts lines, hashed or plain) holds a key for ``host``."""
    from paramiko.hostkeys import HostKeyEntry, HostKeys, InvalidHostKey  # only inventories with SSH clients

    keys = HostKeys()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            entry = HostKeyEntry.from_line(line, number)
        except (InvalidHostKey, ValueError, TypeError) as exc:
            raise ValueError(f"line {number} is not a known_hosts entry ({type(exc).__name__})") from None
        if entry is not None and entry.key is not None:
            for name in entry.hostnames:
                keys.add(name, entry.key.get_name(), entry.key)
    return keys.lookup(host) is not None


def _keyscan(address: str, port: int, name: str) -> str:
    flag = f"-p {port} " if port != 22 else ""
    return f"add it with: ssh-keyscan {flag}{address} >> {name}, then check the fingerprints on the host"
