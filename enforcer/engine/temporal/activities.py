"""What a worker does for the site workflow: each activity one call of the executor's :class:`Work`.

A worker serves the plays of a playbook it loaded itself, from its own checkout of the MSP repository:
the passwords come from its inventory and its credential store, where it runs, and never travel with
the work (a step names an account; its password is read here). The credential store must be the one
the submitter and every other worker use (see the README's production section).

A worker keeps one :class:`PlayRun` per site it is working on (its drivers' sessions, its copy of the
store, its login guard), and builds it afresh whenever the workflow says another worker, or none, last
touched the activity's target: that worker may have changed a password or an isolation record since.

Errors: an enforcer error fails the step with its own message, never retried (an authentication
failure above all: a retry would spend the device's lock budget), except a transport failure (no whole
reply), which an idempotent ensure may repeat. Anything else is a bug, reported as the local executor
reports one ("internal error: …"), and not retried.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from enforcer.drivers.base import DriverOptions
from enforcer.engine.handlers import StepContext, run_step
from enforcer.engine.run import PlayRun, note_writes
from enforcer.engine.temporal.wire import lock_state_to_dict
from enforcer.engine.temporal.workflow import LOCK_STATE, REPLAN, STEP, VERIFY
from enforcer.errors import EnforcerError, TransportFailed
from enforcer.model import Play, Site
from enforcer.plan.artifact import Plan, SitePlan, Step

_T = TypeVar("_T")


def failure(exc: BaseException) -> ApplicationError:
    """The activity failure for ``exc``: retryable only for a lost reply; the message is the one a person
    reads in the recap (enforcer's messages never hold a secret)."""
    if isinstance(exc, TransportFailed):
        return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=False)
    if isinstance(exc, EnforcerError):
        return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True)
    return ApplicationError(f"internal error: {type(exc).__name__}: {exc}", type="InternalError", non_retryable=True)


@dataclass
class WorkerOptions:
    """How a worker reaches devices and keeps sessions."""

    identity: str
    driver_options: DriverOptions
    time_scale: float = 1.0
    concurrency: int = 20  # driver calls at once (activities at once)
    heartbeat: float = 2.0  # seconds between heartbeats of a running activity
    sessions: int = 200  # sites whose sessions are kept between activities (the oldest go first)


class SiteActivities:
    """The activities of :mod:`.workflow`, for the plays of one playbook."""

    def __init__(self, plays: Sequence[Play], options: WorkerOptions) -> None:
        self.plays = {p.name: p for p in plays}
        self.options = options
        self.pool = ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="enforce-worker")
        self._sessions: OrderedDict[tuple[str, str], PlayRun] = OrderedDict()
        self._lock = threading.Lock()

    def activities(self) -> list[Callable[..., Any]]:
        return [self.step, self.lock_state, self.verify, self.replan]

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            for run in self._sessions.values():
                run.close()
            self._sessions.clear()

    # -- activities -----------------------------------------------------------------------------------

    @activity.defn(name=STEP)
    async def step(self, order: dict[str, Any]) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            step = Step.from_dict(order["step"])
            run, site = self._session(order, [step.target])
            device = site.device(step.target.split("/", 1)[1])
            if device is not None:
                run.open_driver(device)
            sites = {s.name: s for s in run.play.selected()}
            ctx = StepContext(sites, run.drivers, run.keyring, run.options.source_address, run.open_client)
            done = run_step(step, ctx)
            return {"worker": self.options.identity, "detail": done.detail, "changed": done.changed}

        return await self._run(work)

    @activity.defn(name=LOCK_STATE)
    async def lock_state(self, order: dict[str, Any]) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            run, site = self._session(order, [order["device"]])
            device = site.device(order["device"].split("/", 1)[1])
            if device is None:
                raise EnforcerError(f"{order['device']}: no such device in this worker's inventory")
            state = run.open_driver(device).lock_state()
            return {"worker": self.options.identity, **lock_state_to_dict(state)}

        return await self._run(work)

    @activity.defn(name=VERIFY)
    async def verify(self, order: dict[str, Any]) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            run, site = self._session(order, None)
            rewritten: set[tuple[str, str]] = set()
            touched: set[str] = set()
            note_writes(SitePlan.from_dict(order["plan"]), rewritten, touched)
            detail = run.verify(site, rewritten, touched)
            return {"worker": self.options.identity, "detail": detail, "targets": _targets(site)}

        return await self._run(work)

    @activity.defn(name=REPLAN)
    async def replan(self, order: dict[str, Any]) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            run, site = self._session(order, None)
            asked = order["replan"]
            saved = None
            if asked["saved"] is not None:
                kept = SitePlan.from_dict(asked["saved"]["plan"])
                play = order["play"]
                saved = Plan(play["playbook"], play["play"], (), (kept,), asked["saved"]["fingerprints"])
            planned = run.replan(
                site.name,
                client_failures=asked["client_failures"],
                restore_unknown=asked["restore_unknown"],
                saved=saved,
            )
            return {"worker": self.options.identity, "plan": planned.to_dict(), "targets": _targets(site)}

        return await self._run(work)

    # -- sessions ---------------------------------------------------------------------------------------

    def _session(self, order: dict[str, Any], targets: list[str] | None) -> tuple[PlayRun, Site]:
        """The site's PlayRun, kept if this worker was the last to touch ``targets``, else built afresh."""
        name = order["play"]["play"]
        play = self.plays.get(name)
        if play is None:
            raise EnforcerError(
                f"this worker serves plays {', '.join(sorted(self.plays))}, not {name!r}: start it with the "
                "submitter's playbook"
            )
        if "enforce" in order["play"]:  # (workflows submitted before the aspects travelled have none)
            play = replace(play, enforce=frozenset(order["play"]["enforce"]))
        site = next((s for s in play.selected() if s.name == order["site"]), None)
        if site is None:
            raise EnforcerError(f"site {order['site']} is not among the sites this worker's play {name!r} selects")
        key = (name, site.name)
        with self._lock:
            run = self._sessions.get(key)
            if run is None or targets is None or order["after"] != self.options.identity:
                # The one replaced is not closed: a parallel step of the site may be using it still.
                run = PlayRun(play, self.options.driver_options, self.options.concurrency, self.options.time_scale)
                self._sessions[key] = run
            self._sessions.move_to_end(key)
            while len(self._sessions) > self.options.sessions:
                self._sessions.popitem(last=False)[1].close()
        return run, site

    async def _run(self, work: Callable[[], _T]) -> _T:
        """``work`` on a pool thread, heartbeating meanwhile (a dead worker is noticed within the heartbeat
        timeout); its error as :func:`failure` says."""
        future = asyncio.get_running_loop().run_in_executor(self.pool, work)
        while True:
            done, _ = await asyncio.wait({future}, timeout=self.options.heartbeat)
            if done:
                break
            activity.heartbeat()
        try:
            return future.result()
        except Exception as exc:
            raise failure(exc) from None


def _targets(site: Site) -> list[str]:
    return [d.id for d in site.devices] + [c.id for c in site.clients]
