"""The executor's events and results as the JSON a workflow's history holds, and back. Pure.

Everything here crosses the Temporal service, so it holds what a plan file holds and no more: steps
name accounts and carry masked changes (``(sensitive, changed)``), never a password. Activities load
the passwords where they run, from the inventory and the credential store of their worker.

    >>> from enforcer.plan.artifact import Step
    >>> from enforcer.plan.steps import Verify
    >>> step = Step("s", "verify", "s", Verify())
    >>> event = ex.StepFinished(step, "succeeded", "converged")
    >>> event_from_dict(event_to_dict(event)) == event
    True
"""

from __future__ import annotations

from typing import Any

from enforcer.engine import executor as ex
from enforcer.facts import LockState
from enforcer.plan.artifact import SitePlan, Step


def event_to_dict(event: ex.Event, at: float = 0.0) -> dict[str, Any]:
    """``event`` as JSON-ready data; ``at`` (seconds since the epoch) dates a wait's start."""
    if isinstance(event, ex.StepStarted):
        return {"type": "step_started", "step": event.step.to_dict()}
    if isinstance(event, ex.StepFinished):
        return {
            "type": "step_finished",
            "step": event.step.to_dict(),
            "status": event.status,
            "detail": event.detail,
            "changed": event.changed,
        }
    if isinstance(event, ex.Waiting):
        return {"type": "waiting", "step": event.step.to_dict(), "seconds": event.seconds, "left": event.left, "at": at}
    if isinstance(event, ex.SiteWaiting):
        return {
            "type": "site_waiting",
            "site": event.site,
            "devices": list(event.devices),
            "seconds": event.seconds,
            "left": event.left,
            "at": at,
        }
    if isinstance(event, ex.SitePlanned):
        return {"type": "site_planned", "plan": event.plan.to_dict()}
    return {"type": "site_finished", "site": event.site, "status": event.status, "detail": event.detail}


def event_from_dict(raw: dict[str, Any]) -> ex.Event:
    """The event :func:`event_to_dict` wrote; ValueError for a type this version does not know."""
    kind = raw["type"]
    if kind == "step_started":
        return ex.StepStarted(Step.from_dict(raw["step"]))
    if kind == "step_finished":
        return ex.StepFinished(Step.from_dict(raw["step"]), raw["status"], raw["detail"], raw["changed"])
    if kind == "waiting":
        return ex.Waiting(Step.from_dict(raw["step"]), raw["seconds"], raw["left"])
    if kind == "site_waiting":
        return ex.SiteWaiting(raw["site"], tuple(raw["devices"]), raw["seconds"], raw["left"])
    if kind == "site_planned":
        return ex.SitePlanned(SitePlan.from_dict(raw["plan"]))
    if kind == "site_finished":
        return ex.SiteFinished(raw["site"], raw["status"], raw["detail"])
    raise ValueError(f"unknown event type {kind!r}: the workers run another version of enforce")


def result_to_dict(result: ex.SiteResult) -> dict[str, Any]:
    return {
        "site": result.site,
        "status": result.status,
        "detail": result.detail,
        "unreachable": result.unreachable,
        "steps": [
            {"step": s.step.to_dict(), "status": s.status, "detail": s.detail, "changed": s.changed}
            for s in result.steps
        ],
    }


def result_from_dict(raw: dict[str, Any]) -> ex.SiteResult:
    steps = [ex.StepResult(Step.from_dict(s["step"]), s["status"], s["detail"], s["changed"]) for s in raw["steps"]]
    return ex.SiteResult(raw["site"], raw["status"], raw["detail"], steps, raw["unreachable"])


def lock_state_to_dict(state: LockState) -> dict[str, Any]:
    return {"locked": state.locked, "unlock_seconds": state.unlock_seconds, "attempts_left": state.attempts_left}


def lock_state_from_dict(raw: dict[str, Any]) -> LockState:
    return LockState(raw["locked"], raw["unlock_seconds"], raw["attempts_left"])
