"""The lab's own description of a simulated fleet: each device's *actual* state.

The fleet generator writes it (``lab.spec.json``) beside the MSP repo it generates; ``enforce lab
serve`` reads it and brings the fleet up. It is the lab's truth, deliberately separate from the
inventory (the inventory says what an MSP *wants*; the spec says what the devices *are*), so that a
seeded problem such as ``unknown_password`` can make the two disagree.

Everything here is plain data with a JSON round trip; nothing imports the drivers or the engine.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

SPEC_VERSION = 1

Role = Literal["recorder", "camera"]
Level = Literal["administrator", "operator", "viewer"]
Family = Literal["isapi", "dahua"]

#: The protocol family each vendor's simulated devices speak: OEMs speak their maker's protocol.
FAMILY: dict[str, Family] = {"hikvision": "isapi", "annke": "isapi", "dahua": "dahua", "amcrest": "dahua"}

#: ISAPI resources a profile can lack (``LabProfile.lacks``): the firmware answers them 403 notSupport.
UNSUPPORTABLE = ("lock_policy", "ip_filter", "channels", "channel_status", "motion_detection", "log_search")


@dataclass
class LabAccount:
    """One account on a device, with its real password (the lab knows it; devices never return it)."""

    name: str
    level: Level
    password: str
    enabled: bool = True


@dataclass
class LabLockPolicy:
    """The illegal-login lock as configured on the device now."""

    enabled: bool = True
    max_attempts: int = 5
    lock_seconds: int = 1800


@dataclass
class LabIPFilter:
    """The device's IP filter: ``mode`` ``allow`` admits only ``addresses``, ``deny`` refuses them."""

    enabled: bool = False
    mode: Literal["allow", "deny"] = "allow"
    addresses: list[str] = field(default_factory=list)


@dataclass
class LabChannel:
    """A recorder's stored credential for one camera (the recorder logs in with it on an interval).

    ``protocol`` is how the recorder reaches the camera: ``vendor``, the maker's own protocol (ISAPI shows
    ``HIKVISION``), on the camera's ``sdk_port``; ``onvif`` on its HTTP port."""

    id: int
    camera: str
    address: str
    port: int
    user: str
    password: str
    protocol: Literal["vendor", "onvif"] = "vendor"


@dataclass
class LabProfile:
    """Firmware behaviour that differs between real devices (see protocols/hikvision-isapi.md §4).

    Defaults are those of a current Hikvision camera; the generator varies them per device.
    """

    namespace: Literal["hikvision", "isapi", "std-cgi", "none"] = "hikvision"
    realm: str = ""  # empty: derived from the family and serial as on real devices
    lock_scope: Literal["source", "source_user", "account"] = "source"
    retry_during_lock_resets_timer: bool = False
    basic_allowed: bool = False
    basic_attempt_counts: bool = False
    #: Hikvision firmware 5.3.0 and later (Milestone KB 000002183): a Basic logon on this digest-only
    #: firmware counts as an illegal login even with the right password. Milestone's drivers open every
    #: conversation with one, so a recording server spends an attempt each time it (re)connects.
    illegal_basic_logon: bool = False
    lock_can_be_disabled: bool = True
    requires_login_password: bool = True
    lock_time_unit: Literal["minutes", "seconds"] = "minutes"
    #: How long the device keeps counting failed logins (device seconds), from the first failure
    #: of a count: then it forgets them (:class:`~enforcer.lab.locks.LockTable`). ``"lock"``: as long
    #: as the lock policy's lock time, following it when the policy changes; ``None`` or 0: never
    #: (only a success, the lock's expiry or a reboot clear the count).
    failure_window_seconds: float | Literal["lock"] | None = "lock"
    reboot_seconds: float = 90.0
    upgrade_seconds: float = 60.0
    channel_poll_seconds: float = 30.0
    #: A recorder's channel login: how long (device seconds) from taking the channel's credential to its
    #: first request reaching the camera (a connection attempt through a busy switch, a slow handshake).
    #: The login keeps the credential it took, as a real recorder's connection attempt does.
    channel_login_delay_seconds: float = 0.0
    max_attempts_range: tuple[int, int] = (3, 20)
    default_password: str = "12345"
    unknown_resource_status: Literal[403, 404] = 403  # a path the firmware does not know at all
    xml_version: Literal["1.0", "2.0"] = "2.0"  # older NVRs: "1.0" (protocol §3.7)
    alert_heartbeat_seconds: float = 10.0  # alertStream: a videoloss "inactive" keep-alive this often
    # Dahua/Amcrest only (protocols/dahua-cgi.md §2, §3, §8); ignored by the ISAPI devices.
    nonce_policy: Literal["reuse", "single_use", "single_use_403"] = "reuse"
    connection_close: bool = False  # every reply, the 401 included, closes the connection
    basic_only: bool = False  # legacy firmware: ``Basic realm="Device_CGI"``, no digest at all
    locked_http_status: Literal[401, 403] = 401  # what CGI answers while the account is locked
    lock_on_challenge: bool = False  # RPC2 already reports the lock in reply to the challenge request
    # An unknown getConfig name: 400 (cameras), 403 ``Authority:check failure.`` (DH-NVR608H), or 200
    # ``Error: Error -1 getting param in name=<name>`` (an LTN6416 recorder).
    unknown_config_status: Literal[200, 400, 403] = 400
    # A CGI action or file the firmware lacks: 400 ``Error / Bad Request!``, or 501 ``Not Implemented!``.
    unsupported_status: Literal[400, 501] = 400
    # What this firmware lacks, answered "not supported" the way such firmware does. ISAPI: any of
    # UNSUPPORTABLE (403 notSupport). Dahua: config names (``General``, ``IPFilter``, ``RemoteDevice``...)
    # and ``<cgi>.<action>`` names, which are also the RPC2 method names (``magicBox.getVendor``...).
    lacks: tuple[str, ...] = ()
    max_sessions: int = 20  # RPC2 sessions; past it a correct login is refused
    camera_login_error_code: bool = True  # recorders: ``getCameraLoginErrorCode`` (400 on older firmware)


@dataclass
class LabDevice:
    """A simulated recorder or camera and everything it holds now."""

    name: str
    site: str
    role: Role
    vendor: str
    model: str
    serial: str
    address: str
    port: int
    scheme: Literal["http", "https"]
    firmware_version: str
    firmware_build: str
    accounts: list[LabAccount]
    lock_policy: LabLockPolicy = field(default_factory=LabLockPolicy)
    ip_filter: LabIPFilter = field(default_factory=LabIPFilter)
    channels: list[LabChannel] = field(default_factory=list)
    profile: LabProfile = field(default_factory=LabProfile)
    problems: list[str] = field(default_factory=list)
    locked_sources: list[str] = field(default_factory=list)  # sources locked out when the lab starts
    sdk_port: int = 8000  # the maker's own protocol (Hikvision SDK): where a recorder's vendor channel points


@dataclass
class LabClient:
    """A simulated client (viewer, phone app) polling one device with the credential it stores."""

    name: str
    site: str
    kind: Literal["viewer"]
    source: str
    target: str
    user: str
    password: str
    interval_seconds: float = 30.0
    problems: list[str] = field(default_factory=list)


@dataclass
class LabHardware:
    """A device as an XProtect management server stores it (a hardware item, protocols/clients.md §1.3).

    ``password`` is what its recording server logs in with; the server never returns it. ``driver`` is
    the device pack that speaks to it (``hikvision`` or ``dahua``: ISAPI or CGI), which also changes the
    device's own password when a task asks it to."""

    id: str
    device: str  # the lab device's name
    name: str
    address: str
    port: int
    user: str
    password: str
    driver: Literal["hikvision", "dahua"] = "hikvision"
    model: str = ""
    enabled: bool = True
    password_last_modified: str = "2024-01-15T09:24:58.9130000Z"


@dataclass
class LabMilestone:
    """An XProtect management server (API Gateway, IDP, Config REST, Events and State) and its recording
    server, which logs into every *enabled* hardware item from ``address`` every ``poll_seconds``.

    The options are the points protocols/clients.md §1 leaves open, tagged [I] there."""

    name: str
    site: str
    address: str
    port: int
    scheme: Literal["http", "https"]
    username: str  # a basic user the token grant accepts
    password: str
    hardware: list[LabHardware] = field(default_factory=list)
    poll_seconds: float = 10.0
    #: How long (device seconds) a recording server's login takes to reach the device; the login keeps
    #: the password it started with (a connection attempt through a busy network).
    login_delay_seconds: float = 0.0
    token_seconds: int = 3600
    #: The recording server opens each connection to a device with a Basic logon (Milestone's drivers).
    opening_logon: bool = True
    #: ``ChangePasswordHardware`` is answered as a queued task to poll (``result.path``), else at once.
    queued_tasks: bool = True
    task_seconds: float = 2.0  # how long a queued password task runs (device seconds)
    task_shape: Literal["flat", "nested"] = "flat"  # task fields in ``data``, or under ``data.result`` (spec)
    task_key: Literal["id", "name"] = "id"  # the key naming a task in ``?tasks`` listings
    parent_type: Literal["recorders", "recordingServers"] = "recorders"
    password_field: Literal["absent", "masked"] = "masked"
    address_form: Literal["uri", "ip"] = "uri"  # ``http://10.0.0.5/`` (spec, MPST) or ``10.0.0.5`` (capture)
    events_api: bool = True  # the Events and State WebSocket (XProtect 2023 R3 and later)
    problems: list[str] = field(default_factory=list)


@dataclass
class LabHostCamera:
    """A camera as a host's software is configured for it when the lab starts."""

    device: str
    user: str
    password: str


@dataclass
class LabHost:
    """A Linux host running Frigate-like NVR software, reached over a real SSH server (clients.md §2.3).

    ``address`` is where its sshd listens and where its camera logins come from; ``login`` may log in
    with ``authorized_key``; ``host_key`` is its private host key (the inventory's known_hosts holds the
    public half).
    """

    name: str
    site: str
    address: str
    ssh_port: int
    login: str
    authorized_key: str
    host_key: str
    cameras: list[LabHostCamera]
    interval_seconds: float = 30.0
    running: bool = True
    problems: list[str] = field(default_factory=list)


@dataclass
class LabSpec:
    """A whole simulated fleet."""

    devices: list[LabDevice]
    clients: list[LabClient] = field(default_factory=list)
    milestone: list[LabMilestone] = field(default_factory=list)
    hosts: list[LabHost] = field(default_factory=list)
    version: int = SPEC_VERSION
    #: The second octet of the first loopback block the device addresses are written for; ``None``: the
    #: addresses are fixed (hand-built specs). A lab with a base moves to a free block at start.
    base: int | None = None
    #: The inventory file (relative to the lab's folder) that reads the block (``lab: "127.10"``): the lab
    #: rewrites it when it moves.
    vars_file: str | None = None
    #: The inventory's known_hosts file (relative to the lab's folder): the lab writes its hosts' keys there
    #: at start, at the addresses it serves them on.
    known_hosts_file: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LabSpec:
        raw = json.loads(text)
        if raw.get("version") != SPEC_VERSION:
            raise ValueError(f"lab spec version {raw.get('version')!r} is not {SPEC_VERSION}")
        return cls(
            devices=[_device(d) for d in raw["devices"]],
            clients=[LabClient(**c) for c in raw.get("clients", [])],
            milestone=[_milestone(m) for m in raw.get("milestone", [])],
            hosts=[_host(h) for h in raw.get("hosts", [])],
            base=raw.get("base"),
            vars_file=raw.get("vars_file"),
            known_hosts_file=raw.get("known_hosts_file"),
        )

    def save(self, path: Path) -> None:
        path.write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LabSpec:
        return cls.from_json(path.read_text(encoding="utf-8"))


def _device(raw: dict[str, Any]) -> LabDevice:
    raw = dict(raw)
    profile = dict(raw.pop("profile", {}))
    for name in ("max_attempts_range", "lacks"):
        if name in profile:
            profile[name] = tuple(profile[name])
    return LabDevice(
        accounts=[LabAccount(**a) for a in raw.pop("accounts")],
        lock_policy=LabLockPolicy(**raw.pop("lock_policy", {})),
        ip_filter=LabIPFilter(**raw.pop("ip_filter", {})),
        channels=[LabChannel(**c) for c in raw.pop("channels", [])],
        profile=LabProfile(**profile),
        **raw,
    )


def _milestone(raw: dict[str, Any]) -> LabMilestone:
    raw = dict(raw)
    return LabMilestone(hardware=[LabHardware(**h) for h in raw.pop("hardware", [])], **raw)


def _host(raw: dict[str, Any]) -> LabHost:
    raw = dict(raw)
    return LabHost(cameras=[LabHostCamera(**c) for c in raw.pop("cameras", [])], **raw)
