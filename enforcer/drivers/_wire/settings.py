"""Read, compare, write only what differs, verify: the lock policy and the IP filter, whose rules are
the same on every vendor. The vendor supplies how to read and write them on its wire.

The IP filter refuses, before anything is written, a filter that would shut out enforcer's own
source address: the device would stop answering the very run that could undo it.
"""

from __future__ import annotations

from collections.abc import Callable

from enforcer.drivers.base import Outcome
from enforcer.errors import DeviceError
from enforcer.facts import IPFilterFact, LockPolicyFact
from enforcer.model import LockPolicy

Error = Callable[[str, str], DeviceError]  # (step, detail)


def ensure_lock_policy(
    policy: LockPolicy, *, read: Callable[[], LockPolicyFact], write: Callable[[], None], error: Error
) -> Outcome:
    if _matches(read(), policy):
        return Outcome(False, "matches")
    write()
    after = read()
    if not _matches(after, policy):
        raise error(
            "lock policy",
            f"the device reports enabled={after.enabled}, {after.max_attempts} attempts, "
            f"{after.lock_seconds} s after the write",
        )
    return Outcome(True, "lock policy set")


def _matches(found: LockPolicyFact, policy: LockPolicy) -> bool:
    if found.enabled != policy.enabled:
        return False
    return not policy.enabled or (
        found.max_attempts == policy.max_attempts and found.lock_seconds == policy.lock_minutes * 60
    )


def ensure_ip_filter(
    wanted: IPFilterFact,
    *,
    source: str | None,
    read: Callable[[], IPFilterFact],
    write: Callable[[], None],
    error: Error,
) -> Outcome:
    step = "ip filter"
    if same_filter(read(), wanted):
        return Outcome(False, "matches")
    if wanted.enabled and source and (source in wanted.addresses) != (wanted.mode == "allow"):
        raise error(step, f"refusing a filter that would shut out enforcer's own source {source}")
    write()
    if not same_filter(read(), wanted):
        raise error(step, "the device reports a different filter after the write")
    return Outcome(True, f"{'enabled' if wanted.enabled else 'disabled'} {wanted.mode} list of {len(wanted.addresses)}")


def same_filter(a: IPFilterFact, b: IPFilterFact) -> bool:
    """The same filter in effect: order and repeats of addresses do not matter."""
    return a.enabled == b.enabled and a.mode == b.mode and set(a.addresses) == set(b.addresses)
