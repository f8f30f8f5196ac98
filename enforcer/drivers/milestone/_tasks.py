"""Storing a device's new password in XProtect: ``ChangePasswordHardware`` (protocols/clients.md §1.4, §1.7).

Always with ``updatePasswordOnDevice: false``: enforcer changed the device itself, with its vendor's
driver, and Milestone doing it again would narrow the charset, double the change and hide the device's
reply. The task is checked, never its HTTP 200: offered on the item (``?tasks&noData``), then its result
followed to a final state (a queued task polled every half second, in the server's time, and cleaned up
with ``TaskCleanup``), then ``passwordLastModified`` must have moved. A reply that is neither a state nor
a queued task is the task's empty form: the password was not stored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from enforcer.credentials.secret import Secret
from enforcer.drivers.milestone._api import Api
from enforcer.drivers.milestone._parse import Hardware, ReplyError, TaskState, hardware_item, task_names, task_state

TASK = "ChangePasswordHardware"
POLL_SECONDS = 0.5
TASK_SECONDS = 300.0  # how long a queued task may run (server seconds)


@dataclass(frozen=True)
class Stored:
    """What storing one item's password did: the task's final state, and whether the item shows it."""

    state: TaskState
    moved: bool | None  # passwordLastModified moved (None: the server does not show it)


def offered(api: Api, step: str, hw: Hardware) -> bool:
    """Whether the item offers ``ChangePasswordHardware`` (XProtect 2022 R3 and later, driver permitting)."""
    _, body = api.call(step, "GET", f"/hardware/{hw.id}?tasks&noData")
    try:
        return TASK in task_names(body)
    except ReplyError as exc:
        raise api.error(step, f"{hw.name}: {exc}") from None


def _read(api: Api, step: str, hw: Hardware) -> Hardware:
    _, body = api.call(step, "GET", f"/hardware/{hw.id}")
    try:
        return hardware_item(body)
    except ReplyError as exc:
        raise api.error(step, f"{hw.name}: {exc}") from None


def store(api: Api, step: str, hw: Hardware, password: Secret) -> Stored:
    """Make XProtect store ``password`` for ``hw``; DeviceError saying what it answered when it did not."""
    if not offered(api, step, hw):
        raise api.error(
            step,
            f"{hw.name} (hardware {hw.id}) does not offer {TASK}: it needs XProtect 2022 R3 or later and a device "
            "driver that supports it; update its password in the Management Client by hand",
        )
    before = _read(api, step, hw).password_last_modified
    body = {"password": password.reveal(), "updatePasswordOnDevice": False}
    _, reply = api.call(step, "POST", f"/hardware/{hw.id}?task={TASK}", body=body)
    state = task_state(reply)
    if state.path is not None:
        state = _follow(api, step, hw, state.path)
    if state.state is None:
        raise api.error(step, f"{hw.name}: {TASK} returned its form, not a result: the password was not stored")
    if state.state not in ("Success", "Completed"):
        raise api.error(step, f"{hw.name} (hardware {hw.id}): XProtect refused {TASK}: {state.describe()}")
    after = _read(api, step, hw).password_last_modified
    if before is not None and after is not None and after == before:
        raise api.error(
            step,
            f"{hw.name}: {TASK} reported {state.state} but passwordLastModified did not move ({after}): "
            "the password may not be stored",
        )
    return Stored(state, None if after is None else after != before)


def _follow(api: Api, step: str, hw: Hardware, task_id: str) -> TaskState:
    """Poll ``/tasks/{id}`` to a final state, then clean the task up."""
    scale = api.options.time_scale
    deadline = time.monotonic() + TASK_SECONDS * scale
    while True:
        _, body = api.call(step, "GET", f"/tasks/{task_id}")
        state = task_state(body)
        if state.final:
            break
        if state.state is None:
            raise api.error(step, f"{hw.name}: task {task_id} shows no state")
        if time.monotonic() > deadline:
            raise api.error(step, f"{hw.name}: {TASK} (task {task_id}) still {state.state} after {TASK_SECONDS:g} s")
        time.sleep(max(0.01, POLL_SECONDS * scale))
    api.call(step, "POST", f"/tasks/{task_id}?task=TaskCleanup", body={}, allow=(200, 404))
    return state
