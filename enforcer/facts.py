"""What a device reports now: the read-only half of every diff (DESIGN.md section 2, "facts").

Facts never hold a secret value. Which stored password works is recorded by its *role* in the
credential store (``current``, ``pending``, ``previous``, ``desired``), so facts can be saved in a
plan file and fingerprinted: a saved plan is refused once the facts it was built from changed.

Absent and unknown are different: ``None`` means "the device did not say" (old firmware, no
capability), an empty tuple means "the device said there are none".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

#: Kept in every isolation allow-list enforcer writes: a documentation address (RFC 5737) that no host
#: has, so admitting it admits nobody, and an isolated device says it is isolated itself: to any machine,
#: with or without the records of the run that isolated it.
ISOLATION_MARKER = "192.0.2.254"

Candidate = Literal["current", "pending", "previous", "desired", "default"]
ChannelDetect = Literal["connect", "errorUserNameOrPasswd", "netUnreachable", "offline", "notExist", "unknown"]


@dataclass(frozen=True)
class AccountFact:
    """An account as the device lists it (passwords are write-only on every device)."""

    name: str
    level: Literal["administrator", "operator", "viewer"] | None
    id: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class LoginFact:
    """The credential that worked, by its role in the credential store, and what the device said of it."""

    account: str
    candidate: Candidate
    is_default: bool | None = None  # the factory password is still set
    is_risk: bool | None = None  # the device rates the password weak
    attempts_spent: int = 0  # failed attempts our discovery spent on this device


@dataclass(frozen=True)
class LockPolicyFact:
    """The illegal-login lock as configured, normalised to seconds."""

    enabled: bool
    max_attempts: int | None
    lock_seconds: int | None
    can_disable: bool | None = None  # False: firmware refuses enabled=false
    attempts_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class LockState:
    """Whether our source is locked out now, read from the device's own answers."""

    locked: bool
    unlock_seconds: float = 0.0
    attempts_left: int | None = None


@dataclass(frozen=True)
class IPFilterFact:
    """The device's IP filter; ``mode`` ``allow`` admits only ``addresses``, ``deny`` refuses them."""

    enabled: bool
    mode: Literal["allow", "deny"]
    addresses: tuple[str, ...] = ()

    @property
    def isolated(self) -> bool:
        """An allow-list enforcer wrote to isolate the device (it holds :data:`ISOLATION_MARKER`)."""
        return self.enabled and self.mode == "allow" and ISOLATION_MARKER in self.addresses


#: Which of a camera's ports a channel's protocol reaches it on: ``sdk``, the maker's own protocol (Hikvision's
#: ``HIKVISION`` on 8000, the camera's ``sdk_port``); ``http``, its HTTP port (ONVIF, ISAPI).
PortKind = Literal["http", "sdk"]


@dataclass(frozen=True)
class ChannelFact:
    """A recorder's channel: the camera it logs into, as whom, and whether that works.

    ``protocol`` is the recorder's own word for how (``HIKVISION``, ``ONVIF``); ``port_kind`` says which of the
    camera's ports that means. ``model``, ``serial`` and ``firmware`` are what the recorder learnt from the
    camera when it last connected (empty before it ever did)."""

    id: int
    address: str
    port: int | None
    user: str
    online: bool
    detect: ChannelDetect = "unknown"
    protocol: str = ""
    port_kind: PortKind = "http"
    model: str = ""
    serial: str = ""
    firmware: str = ""


GapCapability = Literal["lock_policy", "ip_filter", "channels", "channel_status", "security_log"]


@dataclass(frozen=True)
class Gap:
    """A capability the device's firmware lacks, as the device said so ("not supported").

    Recorded instead of failing the device: the plan reports each change the gap makes impossible
    as blocked, with ``detail`` (what the device answered) as its reason."""

    capability: GapCapability
    detail: str


LoginEventKind = Literal["failure", "lock"]


@dataclass(frozen=True)
class LoginEvent:
    """A failed login (``failure``) or a lock it caused (``lock``), as the device's own security log wrote it.

    ``time`` is UTC epoch seconds, converted from the device's wall clock; ``source`` the client address the
    device saw (never empty: entries without one say nothing of who); ``user`` the account name tried."""

    time: float
    source: str
    user: str
    kind: LoginEventKind


@dataclass(frozen=True)
class SecurityLog:
    """What a device's security log holds of failed logins since ``since`` (UTC epoch seconds).

    ``records`` says what the firmware writes down, since absence means different things: Hikvision logs every
    rejected login (``failures``); Dahua logs nothing for a wrong password, only the lock it leads to
    (``locks``). ``gap`` is set, and ``events`` empty, when the firmware has no log to read; ``truncated`` when
    the read stopped at its page limit, so older entries may be missing."""

    since: float
    events: tuple[LoginEvent, ...] = ()
    records: Literal["failures", "locks"] = "failures"
    gap: Gap | None = None
    truncated: bool = False


@dataclass(frozen=True)
class DeviceFacts:
    """Everything gathered from one device in one read."""

    device: str  # site/name
    model: str
    serial: str
    firmware_version: str
    firmware_build: str = ""
    device_type: str = ""
    login: LoginFact | None = None
    accounts: tuple[AccountFact, ...] = ()
    lock_policy: LockPolicyFact | None = None
    lock: LockState = field(default_factory=lambda: LockState(False))
    ip_filter: IPFilterFact | None = None
    channels: tuple[ChannelFact, ...] = ()
    capabilities: tuple[str, ...] = ()
    gaps: tuple[Gap, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DeviceFacts:
        raw = dict(raw)
        policy = raw.pop("lock_policy", None)
        if policy and policy.get("attempts_range") is not None:
            policy = {**policy, "attempts_range": tuple(policy["attempts_range"])}
        ip_filter = raw.pop("ip_filter", None)
        return cls(
            login=LoginFact(**raw.pop("login")) if raw.get("login") else raw.pop("login", None),
            accounts=tuple(AccountFact(**a) for a in raw.pop("accounts", ())),
            lock_policy=LockPolicyFact(**policy) if policy else None,
            lock=LockState(**raw.pop("lock", {"locked": False})),
            ip_filter=IPFilterFact(**{**ip_filter, "addresses": tuple(ip_filter["addresses"])}) if ip_filter else None,
            channels=tuple(ChannelFact(**c) for c in raw.pop("channels", ())),
            capabilities=tuple(raw.pop("capabilities", ())),
            gaps=tuple(Gap(**g) for g in raw.pop("gaps", ())),
            **raw,
        )

    def fingerprint(self) -> str:
        """SHA-256 of the device's configuration as read; what moves by itself is left out: the lock
        countdown, each channel's online state (the recorder re-polls its cameras all the time) and what it
        learnt from the camera when it last connected."""
        data = self.to_dict()
        data["lock"] = {"locked": self.lock.locked}
        for channel in data["channels"]:
            for moving in ("online", "detect", "model", "serial", "firmware"):
                channel.pop(moving)
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def gap(self, capability: str) -> Gap | None:
        """The gap that explains why ``capability`` is missing, if the device said it lacks it."""
        return next((g for g in self.gaps if g.capability == capability), None)

    def account(self, name: str) -> AccountFact | None:
        return next((a for a in self.accounts if a.name == name), None)

    def channel(self, channel_id: int) -> ChannelFact | None:
        return next((c for c in self.channels if c.id == channel_id), None)
