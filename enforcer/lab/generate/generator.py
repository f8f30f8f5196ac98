"""The fleet generator: a simulated MSP's git repository, and the lab's truth about its devices.

``generate(out, sites=3, cameras=4, seed=7, problems=["stale_viewer"])`` writes::

    out/
      .gitignore               keeps the vault password and the lab's own files out of git
      site.yml                 the playbook: one play over every site
      lab.spec.json            what each simulated device really is (``enforce lab serve`` reads it)
      inventory/
        fleet.yml              organisation, defaults, firmware by model, sites
        .vault-password        the inventory's vault password (mode 0600)
        credentials.vault      the credential store: each device's current passwords
        secrets/fleet.vault    the desired passwords, one key per ``device/account``
        firmware/*.dav         lab firmware images, with their sha256 in fleet.yml

A fleet of more than 4,000 devices is split as the README says a large inventory is, so that no
file passes the loader's size limit: ``fleet.yml`` and ``secrets/fleet.vault`` hold the first 4,000
devices' sites, ``sites-002.yml`` and ``secrets/fleet-002.vault`` the next, and so on (each site of
a later part names its vault file in its ``vars``).

Site ``i`` (from 0) is ``site-{i+1:03}``; its devices listen on ``127.(10 + i // 250).(i % 250).d``,
recorder ``d=1``, cameras ``d=2…``, the clients ``--clients`` adds past them (a Frigate host ``d=250``, an
XProtect server ``d=254``); viewers have their own sources in ``127.200+.x.10``. Device names
(``nvr-001``, ``cam-001-01``) are unique across the fleet, as the lab keys devices by name. Every
random choice comes from ``random.Random(seed)``: a seed reproduces the fleet (the vault files'
salts are fresh, so those differ byte for byte but decrypt to the same content).

A device with no seeded problem is converged: desired == actual == the store's current password,
its lock policy and firmware as the inventory declares. Each seeded problem (:data:`PROBLEMS`) is
listed in the ``problems`` of the device it concerns (``stale_viewer``: of the recorder and of the
viewer) and means exactly:

- ``default_password``: admin's actual password is ``profile.default_password``, and so is the
  store's current; the inventory desires a strong one.
- ``weak_password``: admin's actual password is a weak one (flagged ``isRiskPassword`` by the lab);
  the store knows it; the inventory desires a strong one.
- ``unknown_password``: the store's current for admin is wrong (a rotation recorded but never
  applied: it is the inventory's desired password); the actual one is the store's previous.
- ``stale_channel`` (a camera): admin's desired password differs from the actual one, which the
  store knows and the recorder's channel holds: the channel goes stale when the camera changes.
- ``stale_viewer`` (a recorder): a viewer holds the actual ``operator`` password, which the
  inventory wants changed; the inventory lists the viewer as a ``manual`` client holding it.
- ``old_firmware``: the device runs an older version than the inventory's entry for its model.
- ``lock_disabled``: the device's lock is off (and can be switched on); the inventory wants it on.
- ``locked``: the device starts locked for the enforcer's source, 127.0.0.1 (source-scoped lock).

The four admin-password problems go to different devices of a site; the others to any device.

``clients`` adds clients of those kinds to every site, holding the site's current credentials (stale once
enforcer changes them): :data:`CLIENT_WRITERS` has one writer per kind. With an XProtect server, every
password drawn is letters and digits only, as Milestone stores no other.

``vendor`` is ``hikvision``, ``annke``, ``dahua``, ``amcrest`` or ``mixed``: site ``i`` of a mixed
fleet is all of vendor ``MIXED[i % 4]`` (a recorder records its own vendor's cameras), and the sites
whose lock defaults differ from the first site's join a group that holds them. Models and firmware are
in :mod:`enforcer.lab.generate.models`, per-vendor device behaviour in :mod:`enforcer.lab.generate.profile`, the
files in :mod:`enforcer.lab.generate.repo`.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from enforcer.lab.choices import CLIENT_KINDS, PROBLEMS, VENDORS
from enforcer.lab.generate.hosts import HOST_OCTET, add_ssh_host, write_hosts
from enforcer.lab.generate.milestone import MILESTONE_OCTET, add_milestone
from enforcer.lab.generate.models import CAMERAS, FAMILY, RECORDERS, VIEWERS, Family, Model
from enforcer.lab.generate.profile import (
    DAHUA_ATTEMPTS,
    default_lock,
    draw_lock,
    failure_window,
    illegal_basic_logon,
    profile,
    serial,
)
from enforcer.lab.generate.repo import GROUP_NAMES, HTTP_PORT, lock_text, write_repo
from enforcer.lab.spec import (
    LabAccount,
    LabChannel,
    LabClient,
    LabDevice,
    LabLockPolicy,
    LabSpec,
    Role,
)

__all__ = [
    "CLIENT_KINDS",
    "ENFORCER_SOURCE",
    "HTTPS_PORT",
    "HTTP_PORT",
    "MIXED",
    "VENDORS",
    "format_share",
    "generate",
    "parse_clients",
    "parse_problems",
    "parse_share",
]

MIXED = ("hikvision", "dahua", "annke", "amcrest")  # the vendor of each site of a mixed fleet, in turn
HTTPS_PORT = 10443
SDK_PORTS = {"isapi": 8000, "dahua": 37777}  # each family's own protocol, as the drivers assume it
ENFORCER_SOURCE = "127.0.0.1"
#: The second octet of the block generated device addresses are written for (the lab may move them),
#: and the inventory file the lab rewrites when it does.
BASE = 10
VARS_FILE = "inventory/lab.yml"
MAX_SITES = 250 * 55  # second octets 10..199 for devices, 200..254 for viewers
VIEWER_INTERVAL = 5.0
WEAK_PASSWORDS = ("12345678", "11111111", "88888888", "password", "qwertyui", "abcdefgh", "666666", "admin")
CREDENTIAL_PROBLEMS = ("stale_channel", "default_password", "weak_password", "unknown_password")
# No ' " ; : & (Dahua refuses them, dahua-cgi.md §4), and nothing a URL query or YAML would mangle.
_SYMBOLS = "!#%+-.=@_"
_ALPHABET = string.ascii_letters + string.digits + _SYMBOLS


def site_vendor(vendor: str, site: int) -> str:
    """The vendor of site ``site`` (from 0) of a ``vendor`` fleet."""
    return MIXED[site % len(MIXED)] if vendor == "mixed" else vendor


def parse_problems(text: str) -> tuple[str, ...]:
    """A ``--problems`` value: a comma list of :data:`PROBLEMS` names, or ``all``; ValueError otherwise."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    if names == ["all"]:
        return PROBLEMS
    return _check_problems(names)


def parse_clients(text: str) -> tuple[str, ...]:
    """A ``--clients`` value: a comma list of :data:`CLIENT_KINDS`; ValueError otherwise."""
    names = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in names if c not in CLIENT_KINDS]
    if unknown:
        raise ValueError(f"unknown client kind {', '.join(map(repr, unknown))}: choose from {', '.join(CLIENT_KINDS)}")
    return tuple(c for c in CLIENT_KINDS if c in names)


def parse_share(text: str) -> float | dict[str, float]:
    """A ``--problem-share`` value: ``0.2`` for every problem, or ``locked=0.1,stale_viewer=0.5``."""
    try:
        if "=" not in text:
            return float(text)
        pairs = (item.split("=", 1) for item in text.split(",") if item.strip())
        return {name.strip(): float(value) for name, value in pairs}
    except ValueError:
        raise ValueError(f"bad share {text!r}: give 0.2, or problem=0.2,problem=0.5") from None


def format_share(share: float | Mapping[str, float]) -> str:
    """The ``--problem-share`` text for ``share`` (the inverse of :func:`parse_share`)."""
    if isinstance(share, Mapping):
        return ",".join(f"{name}={value:g}" for name, value in share.items())
    return f"{share:g}"


def generate(
    out: Path,
    *,
    sites: int,
    cameras: int,
    vendor: str = "hikvision",
    seed: int,
    problems: Sequence[str] = (),
    thresholds: Sequence[int] | None = None,
    problem_share: float | Mapping[str, float] = 1.0,
    https_share: float = 0.0,
    organisation: str = "lab-msp",
    clients: Sequence[str] = (),
) -> LabSpec:
    """Write a simulated fleet's repository into ``out`` (missing or empty) and return its lab spec.

    Args:
        sites: how many sites, each with one recorder.
        cameras: cameras per site, all recorded by the site's recorder (0–253).
        vendor: ``hikvision``, ``annke``, ``dahua``, ``amcrest``, or ``mixed`` (one vendor per site,
            in the order of :data:`MIXED`).
        seed: the seed of every random choice, passwords included.
        problems: :data:`PROBLEMS` to seed, each on one device of every chosen site.
        thresholds: lock thresholds to draw from (default 3–7, mostly the model's default; Dahua
            and Amcrest take 3–10).
        problem_share: the share of sites (0–1) each problem goes to, one number or per problem.
        https_share: the share of recorders served over HTTPS (the inventory trusts
            ``../lab.cert.pem``, the certificate ``enforce lab serve`` writes beside ``lab.spec.json``).
        organisation: the MSP's name.
        clients: :data:`CLIENT_KINDS` to add to every site, holding the site's current credentials (so
            stale once enforcer changes them): ``ssh`` a Frigate-like host holding its cameras, ``milestone``
            an XProtect server holding every device as ``admin``, ``viewer`` a desktop viewer holding its
            recorder's admin password.
    """
    chosen = _check_problems(problems)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 _.-]*", organisation):
        raise ValueError("organisation must be a name: letters, digits, spaces, '_', '.', '-'")
    _check_options(sites, cameras, vendor, chosen, thresholds, problem_share, https_share)
    kinds = parse_clients(",".join(clients))
    if "ssh" in kinds and not 1 <= cameras < HOST_OCTET - 1:
        raise ValueError(f"ssh clients hold a site's cameras: give 1 to {HOST_OCTET - 2} cameras per site")
    if "milestone" in kinds and cameras >= MILESTONE_OCTET - 1:
        most = MILESTONE_OCTET - 2
        raise ValueError(
            f"a site's XProtect server listens on .{MILESTONE_OCTET}: give at most {most} cameras per site"
        )
    rng = random.Random(seed)
    fleet = _Fleet(rng, vendor, cameras, tuple(thresholds) if thresholds else None, https_share, out, kinds)
    for i, site_problems in enumerate(_assign(rng, sites, cameras, chosen, problem_share)):
        fleet.add_site(i, sites, site_problems)
    command = f"--sites {sites} --cameras {cameras} --vendor {vendor} --seed {seed}"
    command += f" --problems {','.join(chosen)}" if chosen else ""
    if chosen and problem_share != 1.0:
        command += f" --problem-share {format_share(problem_share)}"
    command += f" --thresholds {','.join(map(str, thresholds))}" if thresholds else ""
    command += f" --https-share {https_share:g}" if https_share else ""
    command += f" --organisation {organisation}" if organisation != "lab-msp" else ""
    command += f" --clients {','.join(kinds)}" if kinds else ""
    grouped = sorted({f for f in fleet.families if f != fleet.family})
    write_repo(out, fleet, organisation=organisation, command=command, family=fleet.family, grouped=grouped)
    write_hosts(out, fleet.spec)
    return fleet.spec


def _check_problems(problems: Sequence[str]) -> tuple[str, ...]:
    unknown = [p for p in problems if p not in PROBLEMS]
    if unknown:
        raise ValueError(f"unknown problem {', '.join(map(repr, unknown))}: choose from {', '.join(PROBLEMS)}")
    return tuple(p for p in PROBLEMS if p in problems)


def _check_options(
    sites: int,
    cameras: int,
    vendor: str,
    problems: tuple[str, ...],
    thresholds: Sequence[int] | None,
    share: float | Mapping[str, float],
    https_share: float,
) -> None:
    if vendor not in VENDORS:
        raise ValueError(f"unknown vendor {vendor!r}: use {', '.join(VENDORS[:-1])} or {VENDORS[-1]}")
    if not 1 <= sites <= MAX_SITES:
        raise ValueError(f"sites must be 1 to {MAX_SITES}, not {sites}")
    used = {site_vendor(vendor, i) for i in range(min(sites, len(MIXED)))}
    most = min(RECORDERS[v][-1].channels for v in used)
    if not 0 <= cameras <= min(most, 253):
        raise ValueError(f"cameras must be 0 to {min(most, 253)} per site for {vendor}, not {cameras}")
    if thresholds is not None and (not thresholds or any(not 3 <= t <= 20 for t in thresholds)):
        raise ValueError("thresholds must be lock thresholds from 3 to 20")
    low, high = DAHUA_ATTEMPTS
    if thresholds and any(FAMILY[v] == "dahua" for v in used) and any(not low <= t <= high for t in thresholds):
        raise ValueError(f"Dahua and Amcrest devices lock after {low} to {high} failures: use thresholds in that range")
    shares = share.values() if isinstance(share, Mapping) else [share]
    if any(not 0 <= s <= 1 for s in [*shares, https_share]):
        raise ValueError("a share is a fraction from 0 to 1")
    if isinstance(share, Mapping):
        _check_problems(list(share))
    credential = [p for p in problems if p in CREDENTIAL_PROBLEMS]
    if "stale_channel" in credential and cameras == 0:
        raise ValueError("stale_channel needs at least one camera per site")
    if cameras == 0 and {"locked", "lock_disabled"} <= set(problems):
        raise ValueError("locked and lock_disabled need two devices per site: add a camera")
    if len(credential) > cameras + 1:
        raise ValueError(f"{', '.join(credential)} need {len(credential)} devices per site: use more cameras")


def _assign(
    rng: random.Random, sites: int, cameras: int, problems: tuple[str, ...], share: float | Mapping[str, float]
) -> list[dict[str, int]]:
    """For each site, the device each problem goes to (0 the recorder, k camera k)."""
    where: list[set[str]] = [set() for _ in range(sites)]
    for problem in problems:
        fraction = share.get(problem, 1.0) if isinstance(share, Mapping) else share
        count = 0 if fraction <= 0 else max(1, round(fraction * sites))
        for i in rng.sample(range(sites), count):
            where[i].add(problem)
    out: list[dict[str, int]] = []
    for here in where:
        free = list(range(cameras + 1))
        placed: dict[str, int] = {}
        for problem in (p for p in PROBLEMS if p in here):
            if problem in CREDENTIAL_PROBLEMS:
                pool = [d for d in free if d > 0] if problem == "stale_channel" else free
                placed[problem] = rng.choice(pool)
                free.remove(placed[problem])
            elif problem == "stale_viewer":
                placed[problem] = 0
            else:  # a device locked for us with its lock switched off would be a contradiction
                pool = [d for d in range(cameras + 1) if problem != "locked" or placed.get("lock_disabled") != d]
                placed[problem] = rng.choice(pool)
        out.append(placed)
    return out


@dataclass
class _Fleet:
    """The fleet as it is built: the lab's devices, the inventory's text, passwords for the vaults."""

    rng: random.Random
    vendor: str
    cameras: int
    thresholds: tuple[int, ...] | None
    https_share: float
    out: Path
    clients: tuple[str, ...] = ()
    spec: LabSpec = field(default_factory=lambda: LabSpec(devices=[], base=BASE, vars_file=VARS_FILE))
    net: str = ""  # the site being built: its addresses' prefix, as the inventory writes it
    desired: dict[str, str] = field(default_factory=dict)  # "device/account" -> password
    store: list[tuple[str, str, str, str | None]] = field(default_factory=list)  # id, account, current, previous
    models: dict[str, Model] = field(default_factory=dict)
    sites_yaml: list[str] = field(default_factory=list)  # each site's block of the inventory
    families: set[Family] = field(default_factory=set)  # of the sites built so far

    @property
    def family(self) -> Family:
        """The family whose lock defaults are the inventory's: the first site's."""
        return FAMILY[site_vendor(self.vendor, 0)]

    @property
    def alphanumeric(self) -> bool:
        """Whether passwords are letters and digits only: an XProtect server stores no other."""
        return "milestone" in self.clients

    def password(self) -> str:
        """16 characters (the most Hikvision accepts) from every character class: valid for every vendor
        (with :attr:`alphanumeric`, an upper-case and a lower-case letter and a digit, and nothing else)."""
        rng = self.rng
        if self.alphanumeric:
            chars = [rng.choice(c) for c in (string.ascii_lowercase, string.ascii_uppercase, string.digits)]
            chars += rng.choices(string.ascii_letters + string.digits, k=13)
            rng.shuffle(chars)
            return "".join(chars)
        chars = [rng.choice(c) for c in (string.ascii_lowercase, string.ascii_uppercase, string.digits, _SYMBOLS)]
        chars += rng.choices(_ALPHABET, k=12)
        rng.shuffle(chars)
        return "".join(chars)

    def add_site(self, i: int, total: int, problems: dict[str, int]) -> None:
        width = max(3, len(str(total)))
        site, tag = f"site-{i + 1:0{width}}", f"{i + 1:0{width}}"
        net = f"127.{BASE + i // 250}.{i % 250}"
        block = i // 250  # the inventory reads each block's address from the lab's vars file
        self.net = f"{{{{ lab{block or ''} }}}}.{i % 250}"
        vendor = site_vendor(self.vendor, i)
        self.families.add(FAMILY[vendor])
        recorder_model = next(m for m in RECORDERS[vendor] if m.channels >= self.cameras)
        lines = ["", f"  {site}:"]
        if FAMILY[vendor] != self.family:
            lines.append(f"    groups: [{GROUP_NAMES[FAMILY[vendor]]}]")
        lines += ["    recorders:"]
        here = {d: [p for p in PROBLEMS if problems.get(p) == d] for d in range(self.cameras + 1)}
        recorder = self.device(site, vendor, f"nvr-{tag}", "recorder", recorder_model, f"{net}.1", here[0], lines)
        if self.cameras:
            lines.append("    cameras:")
        camera_models, weights = zip(*CAMERAS[vendor], strict=True)
        cameras: list[LabDevice] = []
        cam_width = max(2, len(str(self.cameras)))
        for k in range(1, self.cameras + 1):
            model = self.rng.choices(camera_models, weights)[0]
            name = f"cam-{tag}-{k:0{cam_width}}"
            address = f"{net}.{k + 1}"
            camera = self.device(site, vendor, name, "camera", model, address, here[k], lines, (recorder.name, k))
            cameras.append(camera)
            admin = camera.accounts[0].password
            # ISAPI recorders reach their cameras over the SDK (proxyProtocol HIKVISION, port 8000), as
            # real ones do; the Dahua lab stores the camera's HTTP port (RemoteDevice.HttpPort)
            port = camera.sdk_port if FAMILY[vendor] == "isapi" else camera.port
            recorder.channels.append(LabChannel(k, camera.name, camera.address, port, "admin", admin))
        if "stale_viewer" in problems:
            self.viewer(site, vendor, tag, i, recorder, lines)
        for kind in self.clients:
            CLIENT_WRITERS[kind](self, _Site(site, vendor, tag, i, net, recorder, cameras), lines)
        self.sites_yaml.append("\n".join(lines))

    def device(
        self,
        site: str,
        vendor: str,
        name: str,
        role: Role,
        model: Model,
        address: str,
        problems: list[str],
        lines: list[str],
        recorder: tuple[str, int] | None = None,
    ) -> LabDevice:
        rng, family = self.rng, FAMILY[vendor]
        self.models.setdefault(model.name, model)
        https = role == "recorder" and rng.random() < self.https_share
        lab_profile = profile(rng, family, role, model, problems)
        attempts, minutes = draw_lock(rng, family, role, problems, self.thresholds)
        device_id = f"{site}/{name}"
        admin = self.admin_password(device_id, name, problems, lab_profile.default_password)
        accounts = [LabAccount("admin", "administrator", admin)]
        if role == "recorder":
            actual = self.password()
            wanted = self.password() if "stale_viewer" in problems else actual
            accounts.append(LabAccount("operator", "operator", actual))
            self.desired[f"{name}/operator"] = wanted
            self.store.append((device_id, "operator", actual, None))
        old_fw = "old_firmware" in problems
        device = LabDevice(
            name=name,
            site=site,
            role=role,
            vendor=vendor,
            model=model.name,
            serial=serial(rng, vendor, model),
            address=address,
            port=HTTPS_PORT if https else HTTP_PORT,
            scheme="https" if https else "http",
            firmware_version=model.old_version if old_fw else model.version,
            firmware_build=model.old_build if old_fw else model.build,
            accounts=accounts,
            lock_policy=LabLockPolicy("lock_disabled" not in problems, attempts, minutes * 60),
            profile=lab_profile,
            problems=list(problems),
            locked_sources=[ENFORCER_SOURCE] if "locked" in problems else [],
            sdk_port=SDK_PORTS[family],
        )
        device.profile.failure_window_seconds = failure_window(device.serial)
        device.profile.illegal_basic_logon = illegal_basic_logon(family, role, device.firmware_version, device.serial)
        self.spec.devices.append(device)
        extra = [f'address: "{self.net}.{address.rsplit(".", 1)[1]}"']
        if recorder:
            extra += [f"recorder: {recorder[0]}", f"channel: {recorder[1]}"]
        usual = default_lock(family, role)  # the inventory's, through the defaults or the site's group
        lock = {k: v for k, v in {"max_attempts": attempts, "lock_minutes": minutes}.items() if v != usual[k]}
        if lock:
            extra.append(f"lock_policy: {lock_text(lock)}")
        if https:
            extra += ["scheme: https", f"port: {HTTPS_PORT}", "tls: {ca: ../lab.cert.pem}"]
        lines.append(f"      {name}: {{vendor: {vendor}, model: {model.name}, {', '.join(extra)}}}")
        return device

    def admin_password(self, device_id: str, name: str, problems: list[str], default: str) -> str:
        """Admin's actual password; records the desired one and the store's view of it."""
        strong, previous = self.password(), None
        if "default_password" in problems:
            actual = current = default
        elif "weak_password" in problems:
            actual = current = self.rng.choice(WEAK_PASSWORDS)
        elif "unknown_password" in problems:
            actual = self.password()
            current, previous = strong, actual
        elif "stale_channel" in problems:
            actual = current = self.password()
        else:
            actual = current = strong
        self.desired[f"{name}/admin"] = strong
        self.store.append((device_id, "admin", current, previous))
        return actual

    def viewer(self, site: str, vendor: str, tag: str, i: int, recorder: LabDevice, lines: list[str]) -> None:
        """The app on a PC or phone that holds the recorder's ``operator`` password (``stale_viewer``)."""
        name, source = f"viewer-{tag}", f"127.{200 + i // 250}.{i % 250}.10"
        operator = recorder.accounts[1]
        client = LabClient(name, site, "viewer", source, recorder.name, operator.name, operator.password)
        client.interval_seconds, client.problems = VIEWER_INTERVAL, ["stale_viewer"]
        self.spec.clients.append(client)
        what = self.rng.choice(VIEWERS[vendor])
        lines += ["    clients:", f"      {name}:", "        kind: manual", f"        what: {json.dumps(what)}"]
        lines += [f"        address: {source}", '        contact: "site manager"']
        lines += [f"        holds: [{{device: {recorder.name}, user: {operator.name}}}]"]

    def desk(self, at: _Site, lines: list[str]) -> None:
        """A desktop viewer holding the recorder's ``admin`` password (``--clients viewer``)."""
        name, source = f"desk-{at.tag}", f"127.{200 + at.index // 250}.{at.index % 250}.11"
        admin = at.recorder.accounts[0]
        client = LabClient(name, at.site, "viewer", source, at.recorder.name, admin.name, admin.password)
        client.interval_seconds = VIEWER_INTERVAL
        self.spec.clients.append(client)
        if "    clients:" not in lines:
            lines.append("    clients:")
        what = VIEWERS[at.vendor][-1]  # not drawn: adding clients leaves the rest of the fleet as the seed made it
        lines += [f"      {name}:", "        kind: manual", f"        what: {json.dumps(what)}"]
        lines += [
            f"        address: {source}",
            '        contact: "office manager"',
            f"        holds: [{at.recorder.name}]",
        ]


@dataclass(frozen=True)
class _Site:
    """A site as built so far, for the writers of ``--clients``."""

    site: str
    vendor: str
    tag: str
    index: int
    net: str  # its block's prefix, as devices listen on it
    recorder: LabDevice
    cameras: list[LabDevice]


def _ssh(fleet: _Fleet, at: _Site, lines: list[str]) -> None:
    add_ssh_host(fleet, at.site, at.tag, (at.net, fleet.net), at.cameras, lines)


def _milestone(fleet: _Fleet, at: _Site, lines: list[str]) -> None:
    add_milestone(fleet, at.site, at.tag, (at.net, fleet.net), [at.recorder, *at.cameras], lines)


#: What ``--clients`` can add to every site, and the writer of each (a client in the lab and the inventory).
CLIENT_WRITERS: dict[str, Callable[[_Fleet, _Site, list[str]], None]] = {
    "milestone": _milestone,
    "ssh": _ssh,
    "viewer": _Fleet.desk,
}
assert tuple(CLIENT_WRITERS) == CLIENT_KINDS, "a client kind the lab's spec names has no writer here, or one more"
