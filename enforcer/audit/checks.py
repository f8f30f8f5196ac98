"""The checks of one device's facts, and the planner's diff read as findings. Pure.

Drift is never computed twice: the planner's :func:`~enforcer.plan.diff.diff_device` and
:func:`~enforcer.plan.diff.diff_channels` say what differs from the declared state, and this module only
says what each difference *is* (firmware behind, the lock off, a rotation pending, ...). What the diff
cannot know (the device's own password flags, the credential store's view, accounts the inventory does
not name, channels refused now, firmware that always locks) is read from the facts.
"""

from __future__ import annotations

from enforcer.audit.findings import Evidence, Finding
from enforcer.audit.firmware import always_locks
from enforcer.audit.result import Unread
from enforcer.facts import DeviceFacts
from enforcer.model import Device, Site
from enforcer.plan.diff import CHANNEL_REFUSED, Change

APPLY = "enforce apply converges it (review enforce plan first)"


def unread(site: Site, device: Device, why: Unread, facts: dict[str, DeviceFacts]) -> Finding:
    """A device with no facts: locked (it refuses us now) or unreadable, with the likely cause where known."""
    hint = _refused_by_recorder(site, device, facts)
    if why.unlock_seconds > 0:
        return Finding(
            "locked",
            site.name,
            device.name,
            why.reason,
            "a source or account locked out loses video and management until the lock ends" + hint,
            "find the source that locked it (the forensics of this report, once readable); the lock ends by itself",
            (("unlock_seconds", round(why.unlock_seconds)), ("step", why.step)),
        )
    return Finding(
        "unreadable",
        site.name,
        device.name,
        f"{why.step}: {why.reason}",
        "nothing can be said of a device that was not read" + hint,
        "check that it is up and reachable, and that the credential store knows its password",
        (("step", why.step),),
    )


def _refused_by_recorder(site: Site, device: Device, facts: dict[str, DeviceFacts]) -> str:
    recorder = facts.get(f"{site.name}/{device.recorder}") if device.recorder else None
    channel = recorder.channel(device.channel) if recorder and device.channel is not None else None
    if channel is None or channel.detect != "errorUserNameOrPasswd":
        return ""
    return f"; {device.recorder} channel {channel.id} is refused by it: a stale stored password is the likely cause"


def passwords(site: Site, device: Device, facts: DeviceFacts) -> list[Finding]:
    """The device's own flags on the login account's password, and whether the store knew it."""
    login = facts.login
    if login is None:
        return []
    out = []
    user = login.account
    if login.is_default:
        out.append(
            Finding(
                "default_password",
                site.name,
                device.name,
                f"{user} still has the factory password",
                "anyone who knows the model can log in; scanners try it first",
                "declare a strong password for it and run enforce apply",
                (("account", user),),
            )
        )
    elif login.is_risk:
        out.append(
            Finding(
                "weak_password",
                site.name,
                device.name,
                f"{user}'s password is rated weak",
                "the firmware rates it easy to guess (short, or one kind of character)",
                "declare a strong password for it and run enforce apply",
                (("account", user),),
            )
        )
    if login.candidate != "current":
        spent = f"; finding it cost {login.attempts_spent} failed login(s)" if login.attempts_spent else ""
        out.append(
            Finding(
                "store_outdated",
                site.name,
                device.name,
                f"the credential store's current password for {user} is not the device's: the {login.candidate} one "
                "works",
                "each run spends a failed login on the outdated one before it finds the right one" + spent,
                "enforce apply records the working password as current (or rotate it)",
                (("account", user), ("works", login.candidate), ("attempts_spent", login.attempts_spent)),
            )
        )
    return out


def accounts(site: Site, device: Device, facts: DeviceFacts) -> list[Finding]:
    """Accounts the device has that the inventory does not mention at all (declared absent is drift)."""
    declared = {a.name for a in device.accounts}
    return [
        Finding(
            "unknown_account",
            site.name,
            device.name,
            f"account {a.name} ({a.level or 'level unknown'}) is not in the inventory",
            "an account nobody declared is one nobody rotates: a forgotten installer or a way in",
            f"declare it (accounts.{a.name}), or remove it with accounts.{a.name}.present: false",
            (("account", a.name), ("level", a.level)),
        )
        for a in facts.accounts
        if a.name not in declared
    ]


def firmware_locks(site: Site, device: Device, facts: DeviceFacts) -> list[Finding]:
    """Firmware whose lock cannot be switched off: the device's own word, else the known table."""
    policy = facts.lock_policy
    if policy is not None and policy.can_disable is False:
        why, source = f"the device says firmware {facts.firmware_version} cannot disable the lock", "the device"
    else:
        row = always_locks(device.vendor, facts.model, facts.firmware_version)
        if row is None:
            return []
        why, source = row.fact, row.source
    return [
        Finding(
            "firmware_always_locks",
            site.name,
            device.name,
            f"{facts.model} on {facts.firmware_version} locks with no way to switch the lock off",
            why,
            "keep every client's credentials current before any change (enforce apply isolates them); upgrade to "
            "firmware whose lock can be switched off",
            (("firmware", facts.firmware_version), ("source", source)),
        )
    ]


def channels(site: Site, device: Device, facts: DeviceFacts) -> list[Finding]:
    """A recorder's channels whose camera refuses the stored credential now (the classic lock source)."""
    out = []
    for channel in facts.channels:
        if channel.detect != "errorUserNameOrPasswd":
            continue
        camera = next((c for c in site.cameras if c.recorder == device.name and c.channel == channel.id), None)
        name = camera.name if camera else channel.address
        out.append(
            Finding(
                "channel_refused",
                site.name,
                device.name,
                f"channel {channel.id} ({name}) is refused: the camera does not take its stored password for "
                f"{channel.user}",
                "the recorder retries every few seconds and locks the camera, for its address or its account",
                f"enforce apply rewrites the channel with {name}'s declared password",
                (("channel", channel.id), ("camera", name), ("user", channel.user)),
            )
        )
    return out


def change_finding(site: Site, change: Change, facts: DeviceFacts | None) -> Finding | None:
    """The finding a diff change is, or None for one another finding already says (a refused channel)."""
    name = change.device.split("/", 1)[1]
    evidence: Evidence = (
        ("key", change.key),
        ("action", change.action),
        ("before", _shown(change.before)),
        ("after", _shown(change.after)),
    )
    blocked = change.action == "blocked"
    fix = f"cannot be changed here: {change.reason}" if blocked else APPLY
    if change.kind == "firmware":
        have, want = str(change.before), str(change.after)
        behind = _older(have, want)
        return Finding(
            "firmware_behind" if behind else "drift",
            site.name,
            name,
            f"firmware {have}, declared {want}",
            "older firmware misses security fixes" if behind else "the device runs another version than declared",
            APPLY,
            evidence,
        )
    if change.kind == "lock_policy":
        if change.key == "lock_policy" and blocked:
            return None  # the firmware has no lock policy: a capability gap, reported as one
        if change.key == "lock_policy.enabled" and change.after is True:
            return Finding(
                "lock_disabled",
                site.name,
                name,
                "the illegal-login lock is off",
                "nothing stops a password being guessed",
                fix,
                evidence,
            )
        what = f"{change.key.split('.', 1)[-1]} is {_shown(change.before)}, declared {_shown(change.after)}"
        if blocked:
            what = f"{change.key} cannot be set as declared"
        why = "the lock policy is not as declared"
        return Finding("lock_policy_differs", site.name, name, what, why, fix, evidence)
    if change.kind == "channel":
        if change.reason == CHANNEL_REFUSED:
            return None  # channel_refused says it, from the channel's state
        what = f"{change.key} {change.action}: {change.reason}" if change.reason else f"{change.key} {change.action}"
        return Finding("drift", site.name, name, what, "the recorder's channel is not as declared", fix, evidence)
    if change.kind == "isolation":
        return Finding(
            "left_isolated",
            site.name,
            name,
            f"{name} is still isolated by an earlier run",
            "its clients are kept out: video is lost while it lasts",
            "enforce apply releases it, restoring what the credential store recorded",
            evidence,
        )
    return Finding("drift", site.name, name, _account_what(change), "the account is not as declared", fix, evidence)


def _account_what(change: Change) -> str:
    account = change.key.split(".")[1]
    if change.key.endswith(".password"):
        if change.action == "create":
            return f"account {account} is missing (and its password)"
        if change.reason:
            return f"{account}'s password: {change.reason}"
        return f"{account}'s password differs from the declared one (a rotation is pending)"
    if change.action == "create":
        return f"account {account} is missing"
    if change.action == "delete":
        return f"account {account} exists but is declared absent"
    return f"{change.key} is {change.before}, declared {change.after}"


def _shown(value: object) -> str | int | float | bool | None:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _older(have: str, want: str) -> bool:
    """Whether version ``have`` is older than ``want`` (numeric parts compared; unknown shapes: not older)."""
    a, b = _numbers(have), _numbers(want)
    return bool(a and b) and a < b


def _numbers(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.lstrip("Vv").replace("-", ".").split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)
