"""Diff: desired state against facts, field by field, per device. Pure: no I/O, no secret printed.

Passwords cannot be read back from any device, so a password is compared with the best password
*known* to be current: the one discovery just logged in with, or the credential store's ``current``.
The comparison happens in memory; a change only says ``sensitive``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from enforcer.credentials.keyring import Known
from enforcer.facts import ChannelFact, DeviceFacts
from enforcer.model import Aspect, Device, Site

Action = Literal["create", "update", "delete", "blocked"]
Kind = Literal["firmware", "lock_policy", "account", "channel", "isolation", "client"]
SENSITIVE = "(sensitive)"
#: Why an account declared ``!secret "store:"`` cannot be planned: the store holds no password for it.
NOT_STORED = (
    "the credential store holds no password for it yet: enforce import records the one it has, "
    "enforce rotate generates one"
)


@dataclass(frozen=True)
class Change:
    """One field that differs. ``before``/``after`` are display values; secrets are never held."""

    device: str
    aspect: Aspect
    kind: Kind
    key: str
    action: Action
    before: Any = None
    after: Any = None
    sensitive: bool = False
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Change:
        return cls(**raw)


def diff_device(device: Device, facts: DeviceFacts, enforce: frozenset[Aspect], known: Known) -> list[Change]:
    """Changes that bring ``device`` from ``facts`` to its desired state, for the aspects enforced."""
    changes: list[Change] = []
    if "firmware" in enforce and device.firmware and device.firmware.version != facts.firmware_version:
        changes.append(
            Change(
                device.id, "firmware", "firmware", "firmware", "update", facts.firmware_version, device.firmware.version
            )
        )
    if "lock_policy" in enforce:
        changes += _lock_policy(device, facts)
    if "credentials" in enforce:
        changes += _accounts(device, facts, known)
    return changes


def _lock_policy(device: Device, facts: DeviceFacts) -> list[Change]:
    have = facts.lock_policy
    want = device.lock_policy
    if have is None:
        lacking = facts.gap("lock_policy")
        reason = lacking.detail if lacking else "the device does not report a lock policy"
        return [_blocked(device, "lock_policy", "lock_policy", "lock_policy", reason)]
    out = []
    if have.enabled != want.enabled:
        if not want.enabled and have.can_disable is False:
            out.append(
                _blocked(
                    device,
                    "lock_policy",
                    "lock_policy",
                    "lock_policy.enabled",
                    f"firmware {facts.firmware_version} cannot disable the illegal-login lock",
                )
            )
        else:
            out.append(
                Change(
                    device.id, "lock_policy", "lock_policy", "lock_policy.enabled", "update", have.enabled, want.enabled
                )
            )
    if want.enabled:
        if have.max_attempts != want.max_attempts:
            gap = _out_of_range(want.max_attempts, have.attempts_range)
            out.append(
                _blocked(device, "lock_policy", "lock_policy", "lock_policy.max_attempts", gap)
                if gap
                else Change(
                    device.id,
                    "lock_policy",
                    "lock_policy",
                    "lock_policy.max_attempts",
                    "update",
                    have.max_attempts,
                    want.max_attempts,
                )
            )
        if have.lock_seconds != want.lock_minutes * 60:
            before = None if have.lock_seconds is None else _minutes(have.lock_seconds)
            out.append(
                Change(
                    device.id,
                    "lock_policy",
                    "lock_policy",
                    "lock_policy.lock_minutes",
                    "update",
                    before,
                    want.lock_minutes,
                )
            )
    return out


def _accounts(device: Device, facts: DeviceFacts, known: Known) -> list[Change]:
    out = []
    for account in device.accounts:
        have = facts.account(account.name)
        key = f"accounts.{account.name}"
        if not account.present:
            if have is not None:
                out.append(Change(device.id, "credentials", "account", key, "delete", have.level, None))
            continue
        if account.generated and account.password is None:
            out.append(_blocked(device, "credentials", "account", f"{key}.password", NOT_STORED))
            continue
        if have is None:
            out.append(Change(device.id, "credentials", "account", key, "create", None, account.level))
            out.append(Change(device.id, "credentials", "account", f"{key}.password", "create", None, SENSITIVE, True))
            continue
        if have.level is not None and have.level != account.level:
            out.append(Change(device.id, "credentials", "account", f"{key}.level", "update", have.level, account.level))
        current = known.get((device.id, account.name))
        if account.password is not None and current != account.password:
            reason = "current password unknown" if current is None else ""
            out.append(
                Change(
                    device.id, "credentials", "account", f"{key}.password", "update", SENSITIVE, SENSITIVE, True, reason
                )
            )
    return out


#: Why a channel whose settings match is rewritten: its camera refuses it now. Right after the rewrite
#: the refusal may still show (the recorder has not logged in again, or a lock its old password caused
#: has not run out), so verify reports a channel it rewrote as reconnecting rather than unconverged.
CHANNEL_REFUSED = "the recorder's stored password is refused by the camera"


def diff_channels(
    site: Site,
    facts: Mapping[str, DeviceFacts],
    changes: list[Change],
    enforce: frozenset[Aspect],
    isolated: frozenset[str] = frozenset(),
) -> list[Change]:
    """Recorder channel credentials that must follow their camera, or that do not log in now.

    A camera in ``isolated`` (an interrupted run left it isolated) may have had its password changed
    with its channel not yet rewritten; the filter hides that from the channel's state, and releasing it
    would let the recorder lock the camera with the old password: its channel is sent again."""
    if "credentials" not in enforce:
        return []
    out = []
    rotating = {
        (c.device, c.key)
        for c in changes
        if c.kind == "account" and c.key.endswith(".password") and c.action != "blocked"
    }
    for camera in site.cameras:
        if camera.recorder is None or camera.channel is None:
            continue
        recorder = site.device(camera.recorder)
        recorder_facts = facts.get(f"{site.name}/{camera.recorder}")
        if recorder is None or recorder_facts is None:
            continue
        have = recorder_facts.channel(camera.channel)
        key = f"channels.{camera.channel}"
        follows = (camera.id, f"accounts.{camera.channel_user}.password") in rotating
        gap = recorder_facts.gap("channels")
        if gap is not None:  # the recorder cannot show or store channels: only a needed change is reported
            if follows:
                reason = f"{camera.name}'s {camera.channel_user} password changes, but {gap.detail}: update it by hand"
                out.append(_blocked(recorder, "credentials", "channel", key, reason))
            continue
        port = channel_port(camera, have)
        if have is None:
            reason = "channel not configured"
        elif (have.address, have.port or port, have.user) != (camera.address, port, camera.channel_user):
            reason = f"channel points at {have.user}@{have.address}:{have.port}" + _speaks(have, port)
        elif follows:
            reason = f"{camera.name}'s {camera.channel_user} password changes"
        elif camera.id in isolated:
            reason = f"an interrupted run left {camera.name} isolated, maybe with its password changed"
        elif have.detect == "errorUserNameOrPasswd":
            reason = CHANNEL_REFUSED
        else:
            continue
        out.append(
            Change(
                recorder.id,
                "credentials",
                "channel",
                key,
                "create" if have is None else "update",
                None if have is None else f"{have.user}@{have.address}",
                f"{camera.channel_user}@{camera.address}",
                True,
                reason,
            )
        )
    return out


def channel_port(camera: Device, have: ChannelFact | None) -> int:
    """The port a recorder's channel must name to reach ``camera``: what the recorder really stores, which
    depends on the channel's protocol (``HIKVISION`` → the camera's SDK port, ``ONVIF`` → its HTTP port). A
    channel not configured yet is written with the HTTP port, which every protocol a driver writes can use."""
    return camera.sdk_port if have is not None and have.port_kind == "sdk" else camera.port


def _speaks(have: ChannelFact, port: int) -> str:
    return f" ({have.protocol or 'its protocol'} reaches the camera on port {port})" if have.port != port else ""


def isolation_change(target: str, key: str = "ip_filter") -> Change:
    """An isolation an earlier run left on ``target`` (a device whose filter holds the isolation marker, or a
    client the store records as taken off its devices): drift to undo whatever is enforced, since video is
    lost while it lasts."""
    return Change(
        target,
        "credentials",
        "isolation",
        key,
        "update",
        "isolated by enforcer",
        "restored",
        reason="left isolated by an earlier run",
    )


def owed_change(client: str) -> Change:
    """A client an interrupted run changed passwords for and never updated (the store's record): drift, since
    it still holds the old passwords and will lock the devices with them."""
    return Change(
        client,
        "credentials",
        "client",
        "credentials",
        "update",
        "old passwords",
        "the declared ones",
        reason="an earlier run changed passwords it holds and was interrupted before updating it",
    )


def _blocked(device: Device, aspect: Aspect, kind: Kind, key: str, reason: str) -> Change:
    return Change(device.id, aspect, kind, key, "blocked", reason=reason)


def _out_of_range(value: int, allowed: tuple[int, int] | None) -> str:
    if allowed and not allowed[0] <= value <= allowed[1]:
        return f"the firmware accepts {allowed[0]}–{allowed[1]} attempts, not {value}"
    return ""


def _minutes(seconds: int) -> int | float:
    return seconds // 60 if seconds % 60 == 0 else round(seconds / 60, 2)
