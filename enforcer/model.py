"""The nouns of the desired state (DESIGN.md section 2), as frozen dataclasses.

What the loader produces after precedence, templating and secret resolution: every value here is
final, so diff and planning never look back at YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from enforcer.credentials.secret import Secret

Role = Literal["recorder", "camera"]
Level = Literal["administrator", "operator", "viewer"]
Isolation = Literal["ip_filter", "client", "none"]
Unlock = Literal["wait", "reboot"]
ClientKind = Literal["milestone", "ssh", "manual"]
Aspect = Literal["credentials", "lock_policy", "firmware"]


@dataclass(frozen=True)
class Account:
    """A desired account; ``present=False`` means it must not exist."""

    name: str
    level: Level
    password: Secret | None
    present: bool = True
    #: Declared ``!secret "store:"``: enforce rotate generates the password and the credential store keeps
    #: it; ``password`` is the store's (pending, else current) once a run has read the store, None before.
    generated: bool = False


@dataclass(frozen=True)
class LockPolicy:
    """The illegal-login lock: on/off, failures before locking, and for how long."""

    enabled: bool
    max_attempts: int
    lock_minutes: int


@dataclass(frozen=True)
class Firmware:
    """A firmware image the device must run."""

    version: str
    image: Path
    sha256: str


@dataclass(frozen=True)
class TLS:
    """How to trust a device's certificate: CA verification, or a pinned SHA-256 fingerprint."""

    verify: bool = True
    ca: Path | None = None
    fingerprint: str | None = None


@dataclass(frozen=True)
class Device:
    """A recorder or camera with its fully resolved desired state."""

    site: str
    name: str
    role: Role
    vendor: str  # a registered vendor (enforcer.drivers.registry), checked on load
    model: str
    address: str
    port: int
    scheme: Literal["http", "https"]
    tls: TLS
    accounts: tuple[Account, ...]
    lock_policy: LockPolicy
    firmware: Firmware | None
    isolation: Isolation
    unlock: Unlock
    recorder: str | None = None
    channel: int | None = None
    channel_user: str = "admin"
    #: The port of the maker's own protocol (Hikvision SDK 8000, Dahua 37777): where a recorder's channel
    #: that speaks it points, rather than the HTTP ``port``.
    sdk_port: int = 8000

    @property
    def id(self) -> str:
        """Stable address of the device: ``site/name``."""
        return f"{self.site}/{self.name}"

    def account(self, name: str) -> Account | None:
        return next((a for a in self.accounts if a.name == name), None)


@dataclass(frozen=True)
class Hold:
    """A credential path: the client logs into ``device`` as ``user``."""

    device: str
    user: str


@dataclass(frozen=True)
class ConfigFile:
    """A file an SSH client keeps its device credentials in, rendered from a template.

    ``source`` is the template's text as validation rendered it, so that apply renders the very same
    text (an edit after ``validate`` cannot slip past it).
    """

    path: str  # absolute, on the host
    template: Path  # in the inventory folder
    mode: str = "0600"
    source: str = ""


@dataclass(frozen=True)
class MilestoneSettings:
    """How to reach an XProtect management server."""

    url: str
    username: str | None = None
    password: Secret | None = None
    tls: TLS | None = None


@dataclass(frozen=True)
class ServiceCommands:
    """The shell commands that drive a host's software; each exits 0 on success.

    ``status`` says whether it runs, ``stop`` and ``start`` isolate and release it, ``reload`` makes it
    read changed files, ``validate`` (optional) checks them in place first, ``check`` says it is
    connected to its devices again (verify waits for it; ``None``: ``status``).
    """

    status: str
    stop: str
    start: str
    reload: str
    validate: str | None = None
    check: str | None = None

    @classmethod
    def systemd(cls, unit: str) -> ServiceCommands:
        """The defaults for a systemd unit."""
        return cls(
            status=f"systemctl is-active --quiet {unit}",
            stop=f"systemctl stop {unit}",
            start=f"systemctl start {unit}",
            reload=f"systemctl restart {unit}",
        )


@dataclass(frozen=True)
class SshSettings:
    """How to reach a Linux host (Frigate and the like), which files hold its device credentials, and the
    commands that drive its software.

    The host's key must be in ``known_hosts`` (a file in the inventory folder); the login takes ``key``,
    then ``password``.
    """

    user: str
    known_hosts: Path
    files: tuple[ConfigFile, ...]
    commands: ServiceCommands
    port: int = 22
    key: Secret | None = None
    password: Secret | None = None


@dataclass(frozen=True)
class ManualSettings:
    """A client with no API (a phone app, a desktop viewer): what it is and whom to ask."""

    what: str | None = None
    contact: str | None = None


ClientSettings = MilestoneSettings | SshSettings | ManualSettings


@dataclass(frozen=True)
class Client:
    """Something that stores credentials for devices and logs in with them.

    ``address`` is where it connects from (what an IP filter keeps out); ``settings`` are its kind's own.
    """

    site: str
    name: str
    kind: ClientKind
    holds: tuple[Hold, ...]
    settings: ClientSettings
    address: str | None = None

    @property
    def id(self) -> str:
        return f"{self.site}/{self.name}"


@dataclass(frozen=True)
class Site:
    """One customer location, the unit of ordering and of failure."""

    name: str
    groups: tuple[str, ...]
    devices: tuple[Device, ...]
    clients: tuple[Client, ...]
    region: str | None = None  # where its work runs with a shared backend (a Temporal task queue per region)

    @property
    def recorders(self) -> tuple[Device, ...]:
        return tuple(d for d in self.devices if d.role == "recorder")

    @property
    def cameras(self) -> tuple[Device, ...]:
        return tuple(d for d in self.devices if d.role == "camera")

    def device(self, name: str) -> Device | None:
        return next((d for d in self.devices if d.name == name), None)


@dataclass(frozen=True)
class KVStore:
    """The credential store in HashiCorp Vault's KV v2 engine: one secret per site under ``path``; the
    server and token come from ``VAULT_ADDR`` and ``VAULT_TOKEN``, never from the inventory."""

    mount: str
    path: str


@dataclass(frozen=True)
class Inventory:
    """A whole MSP repository's desired state."""

    organisation: str
    path: Path
    sites: tuple[Site, ...]
    groups: tuple[str, ...] = ()
    credential_store: Path | KVStore | None = None  # enforcer's record of each device's current passwords
    vault_password: Secret | None = None  # opens the vault files and the credential store

    def site(self, name: str) -> Site | None:
        return next((s for s in self.sites if s.name == name), None)


#: Seconds a holder of old passwords (a recorder, an XProtect server) is given, once it holds the new ones
#: or is taken off, before its devices let it in or change: a login it began with an old password (a
#: connection attempt, a slow handshake) has ended by then.
SETTLE = 10.0


@dataclass(frozen=True)
class Play:
    """One play of a playbook: an inventory, the sites selected from it, and how to roll out."""

    name: str
    inventory: Inventory
    sites: tuple[str, ...]
    enforce: frozenset[Aspect]
    serial: tuple[int | str, ...] = ("100%",)
    max_fail_percentage: float = 0.0
    concurrency: int = 20
    settle: float = SETTLE

    def selected(self) -> tuple[Site, ...]:
        return tuple(s for s in self.inventory.sites if s.name in self.sites)


@dataclass(frozen=True)
class Playbook:
    """A playbook file: plays run in order."""

    path: Path
    plays: tuple[Play, ...] = field(default_factory=tuple)
