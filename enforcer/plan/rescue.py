"""What to undo when a site fails halfway: release every isolation it is safe to release. Pure.

A device left isolated has lost its clients (a camera its recorder): video is lost. A device released
while one of its holders keeps a password the device no longer accepts gets locked by that holder:
video is lost as well. So, after a failure, each isolation of the plan is released unless both hold:

- a password on the device may have changed (an account step on it ran, or the isolation was left by
  an earlier run, whose changes are unknown), and
- a holder of the old password is still not updated: the recorder whose channel was not rewritten, a
  client with an API whose planned update did not succeed (one an earlier run left owed an update, too),
  a manual client that is not kept out by address.

A client's or device's release is refused by the engine as well while the credential store says a client
holding it is owed an update: this decides what to try, that guarantees it.

A holder given new passwords (a recorder's channels, a client's update) first waits as its settle step says,
if that has not run, when a release lets it in.
Releases run in plan order; what stays isolated is said, with why, in the site's result.

    >>> rescue(SitePlan("s"), {}).steps
    ()
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from enforcer.plan.artifact import SitePlan, Step
from enforcer.plan.steps import (
    AccountKind,
    ChannelKind,
    Checklist,
    IsolateClient,
    IsolateFilter,
    ReleaseClient,
    Settle,
    UpdateClient,
    isolates,
)

#: Outcomes that mean a step touched its target (a failed step may have, halfway).
RAN = ("succeeded", "failed")


@dataclass(frozen=True)
class Rescue:
    """The release steps to run now, and each isolation kept, with why."""

    steps: tuple[Step, ...] = ()
    kept: tuple[tuple[str, str], ...] = ()  # (site/name, why it stays isolated)


def rescue(plan: SitePlan, outcomes: Mapping[str, str]) -> Rescue:
    """The releases to run after ``plan`` failed; ``outcomes`` maps the ids of the steps that ran to
    ``succeeded``, ``failed`` or ``skipped`` (done by an interrupted run)."""
    done = {i for i, status in outcomes.items() if status in ("succeeded", "skipped")}
    steps: list[Step] = []
    kept: list[tuple[str, str]] = []
    for release in (s for s in plan.steps if s.phase == "release"):
        if release.id in done:
            continue
        isolate = next((s for s in plan.steps if isolates(s.kind) and s.target == release.target), None)
        if isolate is not None and isolate.id not in outcomes:
            continue  # never isolated by this plan: nothing to undo
        why = _unsafe(plan, release.target, isolate, outcomes, done)
        if why:
            kept.append((release.target, why))
        else:
            steps.append(release)
    # a holder given new passwords (a recorder's channels, a client's update) lets its old logins end before
    # a release lets it in
    released = {s.target for s in steps}
    let_in = {
        h for s in plan.steps if isinstance(s.kind, IsolateFilter) and s.target in released for h in s.kind.holders
    }
    given = {s.target for s in plan.steps if isinstance(s.kind, ChannelKind | UpdateClient) and s.id in outcomes}
    settle = [
        s for s in plan.steps if isinstance(s.kind, Settle) and s.phase != "isolate" and s.target in given & let_in
    ]
    return Rescue(tuple(s for s in settle if s.id not in done) + tuple(steps), tuple(kept))


def undo(plan: SitePlan, outcomes: Mapping[str, str]) -> tuple[tuple[Step, ...], str]:
    """:func:`rescue` as the executor takes it: the releases to run, and what stays isolated in words."""
    found = rescue(plan, outcomes)
    return found.steps, "; ".join(f"{t.split('/', 1)[-1]} ({why})" for t, why in found.kept)


def _unsafe(plan: SitePlan, target: str, isolate: Step | None, outcomes: Mapping[str, str], done: set[str]) -> str:
    """Why releasing ``target`` now would let a holder lock it ('' when it would not)."""
    if isolate is None and any(isinstance(s.kind, ReleaseClient) and s.target == target for s in plan.steps):
        # A client an earlier run took off: its planned update (the run may have changed its devices) first.
        late = any(s.target == target and isinstance(s.kind, UpdateClient) and s.id not in done for s in plan.steps)
        return "it may hold a password an earlier run changed, and was not updated" if late else ""
    if isolate is not None and isinstance(isolate.kind, IsolateClient):
        # A client taken off its devices: put back with an old password, it locks them.
        ran = any(isinstance(s.kind, AccountKind) and outcomes.get(s.id) in RAN for s in plan.steps)
        updated = any(s.target == target and isinstance(s.kind, UpdateClient) and s.id in done for s in plan.steps)
        return "it holds a password that changed and was not updated" if ran and not updated else ""
    changed = isolate is None or any(
        s.target == target and isinstance(s.kind, AccountKind) and outcomes.get(s.id) in RAN for s in plan.steps
    )
    if not changed:
        return ""
    if isolate is None:  # left by an earlier run: its channel and client updates, if planned, must have gone first
        pending = [s for s in plan.steps if _channel_of(s, target) and s.id not in done]
        if pending:
            return f"its recorder's channel for it was not rewritten ({_name(pending[0].target)})"
        owed = [s for s in plan.steps if _update_of(s, target) and s.id not in done]
        return f"{_name(owed[0].target)} was not updated with its password" if owed else ""
    assert isinstance(isolate.kind, IsolateFilter)
    stale = [h for h in isolate.kind.holders if not _updated(plan, h, target, isolate.kind.keep_blocked, done)]
    if not stale:
        return ""
    return f"its password changed and {', '.join(_name(h) for h in stale)} still hold the old one"


def _updated(plan: SitePlan, holder: str, target: str, keep_blocked: tuple[str, ...], done: set[str]) -> bool:
    """Whether ``holder`` no longer holds an old password of ``target``, or cannot reach it."""
    for step in plan.steps:
        if _channel_of(step, target) and step.target == holder:
            return step.id in done
        if step.target == holder and isinstance(step.kind, UpdateClient):
            return step.id in done
        if step.target == holder and isinstance(step.kind, Checklist):
            return step.kind.address is not None and step.kind.address in keep_blocked
    return False


def _update_of(step: Step, device: str) -> bool:
    """Whether ``step`` updates a client's credentials for ``device`` (an id)."""
    name = _name(device)
    return isinstance(step.kind, UpdateClient) and any(h.device == name for h in step.kind.holds)


def _channel_of(step: Step, camera: str) -> bool:
    return isinstance(step.kind, ChannelKind) and step.kind.camera == camera


def _name(device_id: str) -> str:
    return device_id.split("/", 1)[-1]
