"""Dahua ``configManager.cgi`` (``General``, ``IPFilter``, ``RemoteDevice``, the :mod:`.settings`
configs clients read) and ``LogicDeviceManager.cgi``.

dahua-cgi.md §5. ``getConfig`` answers ``table.<Name>...`` lines (a sub-tree narrows them); a name
the firmware lacks (unknown, or in ``profile.lacks``) answers as that firmware does
(``unknown_config_status``). ``setConfig`` paths carry no ``table.`` prefix and are all-or-nothing:
every key is checked into a plan first, and one unknown key, lacked config or bad value answers
``Error`` with nothing changed. A recorder's ``RemoteDevice`` slot s is channel s + 1; ``Password``
is write-only; a changed slot is polled at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from enforcer.lab.dahua import kv, settings
from enforcer.lab.dahua.settings import capacity
from enforcer.lab.ipfilter import FILTER_SIZE, valid_address
from enforcer.lab.net.httpserver import Request, Response

if TYPE_CHECKING:
    from enforcer.lab.dahua.device import DahuaDevice, Session

SLOT = "uuid:System_CONFIG_NETCAMERA_INFO_"
_SLOT_KEY = re.compile(r"^RemoteDevice\.uuid:System_CONFIG_NETCAMERA_INFO_(\d+)\.(\w+)$")
_LIST_KEY = re.compile(r"^IPFilter\.(TrustList|BannedList)\[(\d+)\]$")
SLOT_FIELDS = ("Enable", "Address", "HttpPort", "UserName", "Password", "Name")
MODES = {"TrustList": "allow", "BannedList": "deny"}


def _general(dev: DahuaDevice) -> list[tuple[str, object]]:
    p = dev.spec.lock_policy
    return [
        ("table.General.MachineName", dev.machine_name),
        ("table.General.LocalNo", 8),
        ("table.General.LockLoginEnable", p.enabled),
        ("table.General.LockLoginTimes", p.max_attempts),
        ("table.General.LoginFailLockTime", p.lock_seconds),
        ("table.General.MaxOnlineTime", 1800),
    ]


def _ip_filter(dev: DahuaDevice) -> list[tuple[str, object]]:
    f = dev.spec.ip_filter
    kind = "TrustList" if f.mode == "allow" else "BannedList"
    pairs: list[tuple[str, object]] = [("table.IPFilter.Enable", f.enabled), ("table.IPFilter.Type", kind)]
    return pairs + [(f"table.IPFilter.{kind}[{i}]", a) for i, a in enumerate(f.addresses)]


def _remote(dev: DahuaDevice) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = []
    channels = dev.channels.by_id()
    for s in range(capacity(dev)):
        ch = channels.get(s + 1)
        fields: list[tuple[str, object]] = [
            ("Enable", ch is not None),
            ("Name", ch.camera if ch else ""),
            ("Address", ch.address if ch else "192.168.0.0"),
            ("Port", 37777),
            ("HttpPort", ch.port if ch else 80),
            ("UserName", ch.user if ch else ""),
            ("Password", "******"),
            ("Vendor", "Private"),
            ("ProtocolType", "Dahua2"),
            ("DeviceType", "IPC" if ch else ""),
            ("SerialNo", ""),
        ]
        pairs += [(f"table.RemoteDevice.{SLOT}{s}.{k}", v) for k, v in fields]
    return pairs


Table = Callable[["DahuaDevice"], list[tuple[str, object]]]
#: Configs a non-admin may not read (dahua-cgi.md §5: 403 on CGI, 285278249 over RPC2).
RESTRICTED = frozenset({"IPFilter"})


def _settings_table(name: str) -> Table:
    return lambda dev: settings.pairs(dev, name)


def _tables(dev: DahuaDevice) -> dict[str, Table]:
    tables: dict[str, Table] = {"General": _general, "IPFilter": _ip_filter}
    if dev.family == "nvr":
        tables["RemoteDevice"] = _remote
    for name in settings.NAMES:
        tables[name] = _settings_table(name)
    return {name: table for name, table in tables.items() if name not in dev.profile.lacks}


def lookup(dev: DahuaDevice, name: str) -> list[tuple[str, object]] | None:
    """The ``table.`` lines of config ``name`` (or a sub-tree of it); ``None`` if the firmware lacks it."""
    table = _tables(dev).get(settings.root(name))
    if table is None:
        return None
    prefix = f"table.{name}"
    found = [(k, v) for k, v in table(dev) if k == prefix or k.startswith((prefix + ".", prefix + "["))]
    return found or None


def get_config(dev: DahuaDevice, req: Request, s: Session) -> Response:
    name = req.query.get("name", "")
    if settings.root(name) in RESTRICTED and s.account.level != "administrator":
        return kv.denied()
    found = lookup(dev, name)
    if found is None:
        return kv.unknown_config(dev.profile.unknown_config_status, name)
    return kv.kv(found)


# -- setConfig: plan, then apply ----------------------------------------------------------------


class _Plan:
    def __init__(self) -> None:
        self.general: dict[str, str] = {}
        self.filter: dict[str, str] = {}
        self.lists: dict[str, dict[int, str]] = {}
        self.slots: dict[int, dict[str, str]] = {}
        self.settings: dict[str, settings.Value] = {}


def _plan(dev: DahuaDevice, req: Request) -> _Plan | None:
    plan = _Plan()
    for key, val in req.query.items():
        if key == "action":
            continue
        if settings.root(key) in dev.profile.lacks:
            return None
        if key in dev.settings:
            value = settings.coerce(dev.settings[key], val)
            if value is None:
                return None
            plan.settings[key] = value
        elif key in ("General.LockLoginEnable", "General.LockLoginTimes", "General.LoginFailLockTime"):
            plan.general[key.split(".")[1]] = val
        elif key == "General.MachineName":
            plan.general["MachineName"] = val
        elif key in ("IPFilter.Enable", "IPFilter.Type"):
            plan.filter[key.split(".")[1]] = val
        elif (m := _LIST_KEY.match(key)) is not None:
            plan.lists.setdefault(m.group(1), {})[int(m.group(2))] = val
        elif (m := _SLOT_KEY.match(key)) is not None and dev.family == "nvr" and m.group(2) in SLOT_FIELDS:
            plan.slots.setdefault(int(m.group(1)), {})[m.group(2)] = val
        else:
            return None
    return plan if _valid(dev, plan) else None


def _int_in(raw: str, lo: int, hi: int) -> bool:
    try:
        return lo <= int(raw) <= hi
    except ValueError:
        return False


def _valid(dev: DahuaDevice, plan: _Plan) -> bool:
    g = plan.general
    if "LockLoginEnable" in g and kv.boolean(g["LockLoginEnable"]) is None:
        return False
    if "LockLoginTimes" in g and not _int_in(g["LockLoginTimes"], 3, 10):
        return False
    if "LoginFailLockTime" in g and not _int_in(g["LoginFailLockTime"], 60, 86400):
        return False
    if "MachineName" in g and not g["MachineName"]:
        return False
    f = plan.filter
    if "Enable" in f and kv.boolean(f["Enable"]) is None:
        return False
    if "Type" in f and f["Type"] not in MODES:
        return False
    kind = f.get("Type", "TrustList" if dev.spec.ip_filter.mode == "allow" else "BannedList")
    for name, entries in plan.lists.items():
        if name != kind or sorted(entries) != list(range(len(entries))) or len(entries) > FILTER_SIZE:
            return False
        if not all(valid_address(addr) for addr in entries.values()):
            return False
    for slot, fields in plan.slots.items():
        if slot >= 256 or ("Enable" in fields and kv.boolean(fields["Enable"]) is None):
            return False
        if "HttpPort" in fields and not _int_in(fields["HttpPort"], 1, 65535):
            return False
        if (
            dev.channels.get(slot + 1) is None
            and kv.boolean(fields.get("Enable", "true"))
            and not fields.get("Address")
        ):
            return False  # a new channel needs an address
    return True


def set_config(dev: DahuaDevice, req: Request, s: Session) -> Response:
    if s.account.level != "administrator":
        return kv.denied()
    plan = _plan(dev, req)
    if plan is None:
        return kv.error()
    user = s.account.name
    if plan.settings:
        dev.settings.update(plan.settings)
        dev.emit("config_changed", source=req.source, user=user, keys=sorted(plan.settings))
    if plan.general:
        _apply_general(dev, plan.general, req.source, user)
    if plan.filter or plan.lists:
        _apply_filter(dev, plan, req.source, user)
    polls = [_apply_slot(dev, slot, fields, req.source, user) for slot, fields in sorted(plan.slots.items())]
    if plan.slots:
        dev.host.state_changed()

    def poll() -> None:
        for cid in polls:
            if cid is not None:
                dev.host.channel_changed(dev, cid)

    return kv.ok(after=poll)


def _apply_general(dev: DahuaDevice, g: dict[str, str], source: str, user: str) -> None:
    p = dev.spec.lock_policy
    before = (p.enabled, p.max_attempts, p.lock_seconds)
    if "LockLoginEnable" in g:
        p.enabled = kv.boolean(g["LockLoginEnable"]) is True
    if "LockLoginTimes" in g:
        p.max_attempts = int(g["LockLoginTimes"])
    if "LoginFailLockTime" in g:
        p.lock_seconds = int(g["LoginFailLockTime"])
    if "MachineName" in g:
        dev.machine_name = g["MachineName"]
    if (p.enabled, p.max_attempts, p.lock_seconds) != before:
        dev.emit(
            "lock_policy_changed",
            source=source,
            user=user,
            enabled=p.enabled,
            max_attempts=p.max_attempts,
            lock_seconds=p.lock_seconds,
        )
        dev.host.state_changed()


def _apply_filter(dev: DahuaDevice, plan: _Plan, source: str, user: str) -> None:
    f = dev.spec.ip_filter
    if "Enable" in plan.filter:
        f.enabled = kv.boolean(plan.filter["Enable"]) is True
    if "Type" in plan.filter:
        kind = plan.filter["Type"]
        f.mode = "allow" if kind == "TrustList" else "deny"
        entries = plan.lists.get(kind, {})
        f.addresses = [entries[i] for i in sorted(entries)]
    elif plan.lists:
        [entries] = plan.lists.values()
        f.addresses = [entries[i] for i in sorted(entries)]
    dev.emit("ip_filter_changed", source=source, user=user, enabled=f.enabled, mode=f.mode, addresses=f.addresses)
    dev.host.state_changed()


def _apply_slot(dev: DahuaDevice, slot: int, fields: dict[str, str], source: str, user: str) -> int | None:
    """Update or create channel ``slot + 1``; returns its id to poll (``None``: removed)."""
    cid = slot + 1
    ch = dev.channels.get(cid)
    if kv.boolean(fields.get("Enable", "true")) is False:
        if ch is not None:
            dev.channels.remove(ch)
            dev.emit("channel_deleted", source=source, user=user, channel=cid, camera=ch.camera)
        return None
    event = "channel_changed"
    if ch is None:
        ch = dev.channels.blank(cid)
        dev.channels.add(ch)
        event = "channel_added"
    dev.channels.update(
        ch,
        address=fields.get("Address", ch.address),
        port=int(fields.get("HttpPort", ch.port)),
        user=fields.get("UserName", ch.user),
        password=fields.get("Password", ch.password),
        name=fields.get("Name"),
    )
    dev.channel_event(event, ch, source, user)
    return cid


# -- LogicDeviceManager -------------------------------------------------------------------------


def camera_state(dev: DahuaDevice, req: Request, s: Session) -> Response:
    if dev.family != "nvr":
        return kv.unsupported(dev.profile.unsupported_status)
    pairs: list[tuple[str, object]] = []
    channels = dev.channels.by_id()
    for i in range(capacity(dev)):
        ch = channels.get(i + 1)
        st = dev.channels.status.get(i + 1)
        state = "Empty" if ch is None else "Connected" if st is not None and st.result == "connect" else "Unconnect"
        pairs += [(f"states[{i}].channel", i), (f"states[{i}].connectionState", state)]
    return kv.kv(pairs)


#: The recorder's last login at a channel's camera, as an RPC2 login error code (docs/dahua-wire.md).
LOGIN_ERROR_CODES = {"connect": 0, "connecting": 0, "errorUserNameOrPasswd": 268632085}
CHANNEL_ISSUE = 268632100  # the camera could not be reached or did not answer


def camera_login_error(dev: DahuaDevice, req: Request, s: Session) -> Response:
    """``getCameraLoginErrorCode&channel=<slot>``: why the recorder cannot log into that camera."""
    if dev.family != "nvr" or not dev.profile.camera_login_error_code:
        return kv.unsupported(dev.profile.unsupported_status)
    slot = req.query.get("channel", "")
    channel_id = int(slot) + 1 if slot.isdigit() else 0
    if dev.channels.get(channel_id) is None:
        return kv.error("Invalid channel")
    st = dev.channels.status.get(channel_id)
    result = st.result if st is not None else "connecting"  # added, not polled yet
    return kv.kv([("errorCode", LOGIN_ERROR_CODES.get(result, CHANNEL_ISSUE))])


def register(reg: Callable[..., None]) -> None:
    # getConfigCaps answers the plain config: a DH-NVR608H declares no ranges (dahua-cgi.md §5)
    reg("configManager.cgi", getConfig=get_config, getConfigCaps=get_config, setConfig=set_config)
    reg("LogicDeviceManager.cgi", getCameraState=camera_state, getCameraLoginErrorCode=camera_login_error)
