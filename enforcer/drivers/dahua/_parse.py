"""Pure parsers from Dahua CGI replies to facts (protocols/dahua-cgi.md §4–§6); no I/O.

Each takes a reply body already known not to be ``Error`` and returns a fact part; a reply of the
wrong shape raises :class:`ParseError`, which the driver turns into a per-device error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from enforcer.drivers.dahua._kv import array, boolean, indexed, integer, parse
from enforcer.errors import ParseError
from enforcer.facts import AccountFact, ChannelDetect, ChannelFact, IPFilterFact, LockPolicyFact

Level = Literal["administrator", "operator", "viewer"]

NETCAMERA = "uuid:System_CONFIG_NETCAMERA_INFO_"
EMPTY_ADDRESSES = frozenset({"", "0.0.0.0", "192.168.0.0"})

#: What the driver writes for each level (docs/dahua-wire.md, userManager.cgi "Levels").
GROUPS: dict[Level, str] = {"administrator": "admin", "operator": "user", "viewer": "user"}
AUTHORITIES: dict[Level, tuple[str, ...]] = {
    "administrator": ("AuthUserMag", "AuthSysCfg", "Monitor_01", "Replay_01"),
    "operator": ("Monitor_01", "Replay_01", "AuthBackup"),
    "viewer": ("Monitor_01",),
}


def level_of(group: str, authorities: tuple[str, ...]) -> Level | None:
    """``admin`` → administrator; ``user`` with any right beyond ``Monitor_*`` → operator; else viewer."""
    group = group.strip().lower()
    if group == "admin":
        return "administrator"
    if group == "user":
        return "operator" if any(not a.startswith("Monitor_") for a in authorities) else "viewer"
    return None


@dataclass(frozen=True)
class SystemInfo:
    model: str
    serial: str
    device_type: str  # NVR for recorders (numeric deviceType), else IPC


def system_info(body: bytes) -> SystemInfo:
    fields = parse(body)
    raw_type = fields.get("deviceType", "").strip()
    recorder = raw_type.isdigit()
    model = (fields.get("updateSerial", "") if recorder else raw_type).strip() or raw_type
    if not model:
        raise ParseError("getSystemInfo lacks deviceType")
    return SystemInfo(
        model=model, serial=fields.get("serialNumber", "").strip(), device_type="NVR" if recorder else "IPC"
    )


def software_version(body: bytes) -> tuple[str, str]:
    """(version, build) from ``version=2.800.0000016.0.R,build:2020-06-05`` or ``version=`` + ``BuildDate=``."""
    fields = parse(body)
    raw = fields.get("version", "").strip()
    if not raw:
        raise ParseError("getSoftwareVersion lacks version")
    version, _, rest = raw.partition(",")
    build = rest.strip().removeprefix("build:").strip() if rest else fields.get("BuildDate", "").strip()
    return version.strip(), build


@dataclass(frozen=True)
class User:
    id: str
    name: str
    group: str
    memo: str
    authorities: tuple[str, ...]
    reserved: bool

    @property
    def level(self) -> Level | None:
        return level_of(self.group, self.authorities)

    def fact(self) -> AccountFact:
        return AccountFact(name=self.name, level=self.level, id=self.id or None)


def _user(entry: dict[str, str]) -> User:
    return User(
        id=(entry.get("Id") or entry.get("ID") or "").strip(),
        name=entry.get("Name", "").strip(),
        group=entry.get("Group", "").strip(),
        memo=entry.get("Memo", ""),
        authorities=tuple(array(entry, "AuthorityList")),
        reserved=boolean(entry.get("Reserved")) is True,
    )


def users(body: bytes) -> tuple[User, ...]:
    """``getUserInfoAll``: ``users[i].<Field>`` for each account, indices as present."""
    return tuple(u for u in (_user(e) for e in indexed(parse(body), "users").values()) if u.name)


def lock_policy(body: bytes) -> LockPolicyFact:
    """``General``: ``LockLoginEnable``, ``LockLoginTimes``, ``LoginFailLockTime`` (seconds)."""
    fields = parse(body)
    enabled = boolean(fields.get("table.General.LockLoginEnable"))
    if enabled is None:
        raise ParseError("General lacks LockLoginEnable")
    return LockPolicyFact(
        enabled=enabled,
        max_attempts=integer(fields.get("table.General.LockLoginTimes")),
        lock_seconds=integer(fields.get("table.General.LoginFailLockTime")),
        attempts_range=(3, 10),
    )


def ip_filter(body: bytes) -> IPFilterFact:
    """``IPFilter``: TrustList ↔ allow, BannedList ↔ deny, addresses of the active list."""
    fields = parse(body)
    enabled = boolean(fields.get("table.IPFilter.Enable"))
    kind = fields.get("table.IPFilter.Type", "").strip()
    if enabled is None or kind not in ("TrustList", "BannedList"):
        raise ParseError("IPFilter lacks Enable or Type TrustList|BannedList")
    addresses = [a.strip() for a in array(fields, f"table.IPFilter.{kind}") if a.strip()]
    return IPFilterFact(
        enabled=enabled, mode="allow" if kind == "TrustList" else "deny", addresses=tuple(dict.fromkeys(addresses))
    )


@dataclass(frozen=True)
class Slot:
    """One ``RemoteDevice`` slot; channel = slot + 1."""

    slot: int
    enabled: bool
    address: str
    http_port: int | None
    user: str

    @property
    def channel(self) -> int:
        return self.slot + 1

    @property
    def used(self) -> bool:
        return self.enabled and self.address.strip() not in EMPTY_ADDRESSES


def remote_devices(body: bytes) -> dict[int, Slot]:
    """Slots by index, from ``table.RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_<s>.<Field>`` or the
    older ``table.RemoteDevice[<s>].<Field>`` form."""
    raw: dict[int, dict[str, str]] = {}
    for key, value in parse(body).items():
        rest = key.removeprefix("table.RemoteDevice")
        if rest.startswith("." + NETCAMERA):
            index, dot, field = rest[len(NETCAMERA) + 1 :].partition(".")
        elif rest.startswith("["):
            index, dot, field = rest[1:].replace("]", "", 1).partition(".")
        else:
            continue
        if dot and index.isdigit():
            raw.setdefault(int(index), {})[field] = value
    return {
        s: Slot(
            slot=s,
            enabled=boolean(f.get("Enable")) is True,
            address=f.get("Address", "").strip(),
            http_port=integer(f.get("HttpPort")),
            user=f.get("UserName", "").strip(),
        )
        for s, f in sorted(raw.items())
    }


def camera_states(body: bytes) -> dict[int, str]:
    """``getCameraState``: ``{slot: connectionState}`` (``states[i].channel`` is the 0-based slot)."""
    out: dict[int, str] = {}
    for index, entry in indexed(parse(body), "states").items():
        slot = integer(entry.get("channel"))
        out[index if slot is None else slot] = entry.get("connectionState", "").strip()
    return out


def channel_facts(
    slots: dict[int, Slot], states: dict[int, str], why: Callable[[int], ChannelDetect]
) -> tuple[ChannelFact, ...]:
    """Only enabled slots with a real address; ``connect`` when Connected, else ``why(slot)``."""
    out = []
    for slot in slots.values():
        if not slot.used:
            continue
        online = states.get(slot.slot, "") == "Connected"
        out.append(
            ChannelFact(
                id=slot.channel,
                address=slot.address,
                port=slot.http_port,
                user=slot.user,
                online=online,
                detect="connect" if online else why(slot.slot),
            )
        )
    return tuple(out)


#: RPC2 login errors a recorder meets at its camera that mean its stored credential is refused
#: (protocols/dahua-cgi.md §3 trusts only these two for login outcomes): user or password not valid,
#: and locked, which the recorder's own stale retries cause far more often than anything else.
CAMERA_REFUSED = frozenset({268632085, 268632081})
CAMERA_UNREACHABLE = 268632100  # docs/dahua-wire.md


def channel_detect(body: bytes) -> ChannelDetect:
    """``getCameraLoginErrorCode``: why a channel is not Connected, in the terms facts use."""
    code = integer(parse(body).get("errorCode"))
    if code is None:
        raise ParseError("getCameraLoginErrorCode without errorCode")
    if code in CAMERA_REFUSED:
        return "errorUserNameOrPasswd"
    return "netUnreachable" if code == CAMERA_UNREACHABLE else "unknown"


@dataclass(frozen=True)
class UpgradeState:
    state: str
    progress: int

    @property
    def failed(self) -> bool:
        return self.state in ("Invalid", "FileUnmatch", "Failed", "DownloadFailed", "Cancelled", "NotEnoughMemory")

    @property
    def busy(self) -> bool:
        return self.state in ("Preparing", "Downloading", "Upgrading")

    @property
    def in_flight(self) -> bool:
        """An upgrade a previous (interrupted) run started: follow it, never upload again.

        ``Succeeded`` is not in flight by itself: some firmware keeps reporting it after the reboot,
        and an upgrade to another version must still upload (the driver waits briefly for a reboot
        that a ``Succeeded`` may announce, :mod:`._dahuafirmware`)."""
        return self.busy


def upgrade_state(body: bytes) -> UpgradeState:
    fields = parse(body)
    return UpgradeState(
        state=fields.get("State", "Free").strip() or "Free", progress=integer(fields.get("Progress")) or 0
    )
