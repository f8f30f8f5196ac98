"""The closed set of things a step can do, one typed kind each (Terraform's action set, with arguments).

The planner emits kinds, the plan file stores them by ``action`` name, the executor dispatches on
their type, the journal records them and the reports describe them: a kind's fields are its
arguments, checked by the type checker everywhere. A new kind is one class here, registered with
:func:`kind`, and one handler where steps are carried out (``enforcer.engine.handlers``).

    >>> AccountKind("operator", present=True).to_dict()
    {'account': 'operator', 'present': True}
    >>> kind_from_dict("account", {"account": "operator", "present": True})
    AccountKind(account='operator', present=True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from enforcer.facts import IPFilterFact

#: Stands for the enforcer's own source address in IP-filter parameters; resolved at apply time.
ENFORCER = "@enforcer"


class StepKind:
    """What a step does, with its arguments; subclasses are frozen dataclasses registered by :func:`kind`."""

    action: ClassVar[str]
    #: A resumed run repeats it even if the interrupted run finished it: conditions may have changed.
    always_run: ClassVar[bool] = False

    @property
    def suffix(self) -> str:
        """What tells two steps of this kind on one target apart, in the step's id ('' when nothing)."""
        return ""

    def to_dict(self) -> dict[str, Any]:
        """The arguments as JSON-ready data (the plan file's ``params``)."""
        return _plain(dataclasses.asdict(self)) if dataclasses.is_dataclass(self) else {}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> StepKind:
        return cls(**raw)


KINDS: dict[str, type[StepKind]] = {}
_K = TypeVar("_K", bound=type[StepKind])


def kind(cls: _K) -> _K:
    """Register a step kind under its ``action`` name."""
    if cls.action in KINDS:
        raise ValueError(f"step kind {cls.action!r} is registered twice")
    KINDS[cls.action] = cls
    return cls


def kind_from_dict(action: str, raw: dict[str, Any]) -> StepKind:
    """The kind a plan file names; ValueError for an action this version does not know."""
    if action not in KINDS:
        raise ValueError(f"unknown step action {action!r}: plan again with this version of enforce")
    return KINDS[action].from_dict(raw)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _filter(raw: dict[str, Any] | None) -> IPFilterFact | None:
    return None if raw is None else IPFilterFact(raw["enabled"], raw["mode"], tuple(raw["addresses"]))


# -- isolate -----------------------------------------------------------------------------------------


@kind
@dataclass(frozen=True)
class IsolateFilter(StepKind):
    """Switch the device's IP filter to an allow-list; ``previous`` is what it was when planned."""

    action: ClassVar[str] = "isolate_ip_filter"
    allow: tuple[str, ...]
    previous: IPFilterFact | None
    keep_blocked: tuple[str, ...] = ()
    holders: tuple[str, ...] = ()  # who goes stale: client ids, or the camera's recorder (site/name)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> IsolateFilter:
        keep, holders = tuple(raw["keep_blocked"]), tuple(raw.get("holders", ()))
        return cls(tuple(raw["allow"]), _filter(raw["previous"]), keep, holders)


# -- wait --------------------------------------------------------------------------------------------


@kind
@dataclass(frozen=True)
class WaitUnlock(StepKind):
    """Wait out the lock the device reported (a timer, not a thread)."""

    action: ClassVar[str] = "wait_unlock"
    always_run: ClassVar[bool] = True
    seconds: float = 0.0


@kind
@dataclass(frozen=True)
class RebootUnlock(StepKind):
    """Reboot a locked device, where the playbook allows it."""

    action: ClassVar[str] = "reboot_unlock"
    always_run: ClassVar[bool] = True


# -- devices -----------------------------------------------------------------------------------------


@kind
@dataclass(frozen=True)
class FirmwareKind(StepKind):
    """Install the device's declared firmware."""

    action: ClassVar[str] = "firmware"


@kind
@dataclass(frozen=True)
class LockPolicyKind(StepKind):
    """Set the device's declared lock policy."""

    action: ClassVar[str] = "lock_policy"


@kind
@dataclass(frozen=True)
class AccountKind(StepKind):
    """Make one account as declared (its password to the store first), or remove it."""

    action: ClassVar[str] = "account"
    account: str
    present: bool = True

    @property
    def suffix(self) -> str:
        return self.account


@kind
@dataclass(frozen=True)
class ChannelKind(StepKind):
    """Store in the recorder the credential it logs into one camera with."""

    action: ClassVar[str] = "channel"
    channel: int
    camera: str  # site/name
    address: str
    port: int
    user: str

    @property
    def suffix(self) -> str:
        return str(self.channel)


@kind
@dataclass(frozen=True)
class Settle(StepKind):
    """Give a holder's logins under way time to end (a timer, not a thread): a recorder whose channels were
    rewritten, or an API client just updated, while its devices keep it out; a client just taken off, before
    its devices change. A login it began with an old password then meets the IP filter, or the device while
    that password still works, and never a device that would count it."""

    action: ClassVar[str] = "settle"
    seconds: float = 0.0


# -- clients ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldRef:
    """A credential path a client holds: ``device`` (a name in its site) as ``user``."""

    device: str
    user: str


def _holds(raw: list[dict[str, str]]) -> tuple[HoldRef, ...]:
    return tuple(HoldRef(h["device"], h["user"]) for h in raw)


@kind
@dataclass(frozen=True)
class IsolateClient(StepKind):
    """Take a client off these devices (disable them in the VMS, stop its service)."""

    action: ClassVar[str] = "isolate_client"
    holds: tuple[HoldRef, ...] = ()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> IsolateClient:
        return cls(_holds(raw.get("holds", [])))


def isolates(kind: StepKind) -> bool:
    """Whether a step of ``kind`` isolates its target, which a release undoes (a settle in the isolate phase
    does not)."""
    return isinstance(kind, IsolateFilter | IsolateClient)


@kind
@dataclass(frozen=True)
class UpdateClient(StepKind):
    """Push the new credentials into a client that has an API."""

    action: ClassVar[str] = "update_client"
    holds: tuple[HoldRef, ...]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> UpdateClient:
        return cls(_holds(raw["holds"]))


@kind
@dataclass(frozen=True)
class Checklist(StepKind):
    """A client with no API: a person updates it by hand; it stays blocked (by address) until then."""

    action: ClassVar[str] = "checklist"
    holds: tuple[HoldRef, ...]
    what: str | None = None
    contact: str | None = None
    address: str | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Checklist:
        return cls(_holds(raw["holds"]), raw.get("what"), raw.get("contact"), raw.get("address"))


# -- release and verify ------------------------------------------------------------------------------


@kind
@dataclass(frozen=True)
class ReleaseFilter(StepKind):
    """Restore the IP filter as it was (the journal's record first), keeping stale sources out."""

    action: ClassVar[str] = "release_ip_filter"
    always_run: ClassVar[bool] = True
    restore: IPFilterFact | None = None
    keep_blocked: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ReleaseFilter:
        return cls(_filter(raw.get("restore")), tuple(raw.get("keep_blocked", ())))


@kind
@dataclass(frozen=True)
class ReleaseClient(StepKind):
    """Put an isolated client back on its devices, exactly as its isolation recorded."""

    action: ClassVar[str] = "release_client"
    always_run: ClassVar[bool] = True
    holds: tuple[HoldRef, ...] = ()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ReleaseClient:
        return cls(_holds(raw.get("holds", [])))


@kind
@dataclass(frozen=True)
class Verify(StepKind):
    """Read the site again: converged, nothing locked, every channel online."""

    action: ClassVar[str] = "verify"
    always_run: ClassVar[bool] = True
