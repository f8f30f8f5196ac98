"""Site work that touches no device, the same for both backends: a :class:`Work` for the local executor,
and the same functions as activities for a Temporal worker. Shows the two executors are one protocol
(``test_protocol.py``) and gives ``bench/temporal_bench.py`` a site workload light enough for 10,000 sites.

- ``python -m tests.temporal.fakework worker ADDRESS IDENTITY [PER_QUEUE]``: a worker of region default (each
  step sleeps ``$FAKE_STEP_SECONDS``; PER_QUEUE caps the activities the queue starts a second);
- ``python -m tests.temporal.fakework compare ADDRESS``: :func:`plans` through both executors, as JSON;
- ``python -m tests.temporal.fakework submit ADDRESS SECONDS``: site ``a``, waiting SECONDS to be read
  first; says ``heard`` at its first event, then prints the result as JSON;
- ``python -m tests.temporal.fakework many ADDRESS N``: N isolated sites at once, their statuses as JSON.

Each in a process of its own (see ``probe.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from temporalio import activity

from enforcer.engine.executor import Done, Event, LocalExecutor, RunOptions, SiteResult, SiteWaiting, Waiting, Work
from enforcer.engine.sitelocks import Holder
from enforcer.engine.temporal.client import Submission, TemporalExecutor
from enforcer.engine.temporal.connection import Connection
from enforcer.engine.temporal.wire import event_to_dict, lock_state_to_dict, result_to_dict
from enforcer.engine.temporal.worker import Limits, serve
from enforcer.engine.temporal.workflow import LOCK_STATE, REPLAN, STEP, VERIFY
from enforcer.errors import LoginFailed, TransportFailed
from enforcer.facts import LockState
from enforcer.model import Inventory, Play, Site
from enforcer.plan.artifact import SitePlan, Step
from enforcer.plan.rescue import undo
from enforcer.plan.steps import (
    AccountKind,
    IsolateFilter,
    LockPolicyKind,
    ReleaseFilter,
    Settle,
    Verify,
    WaitUnlock,
)

STEP_SECONDS = float(os.environ.get("FAKE_STEP_SECONDS", "0"))


def run_step(step: Step) -> Done:
    """A step whose target is named ``…fail`` fails as a device refusing our password would; any other
    succeeds."""
    time.sleep(STEP_SECONDS)
    if step.target.endswith("fail"):
        raise LoginFailed(site=step.site, device=step.target, step=step.action, detail="refused (fake)")
    return Done(f"{step.action} done")


def lock_state(device: str) -> LockState:
    return LockState(False)


def verify(site: str) -> str:
    return "converged"


def replan(site: str) -> SitePlan:
    return SitePlan(site, steps=(Step(site, "recorder", f"{site}/nvr", LockPolicyKind()), _verify(site)))


def work() -> Work:
    return Work(run_step, lock_state, verify, rescue=undo, replan=replan)


class FakeActivities:
    """The functions above as the site workflow's activities."""

    def __init__(self, identity: str) -> None:
        self.identity = identity

    @activity.defn(name=STEP)
    async def step(self, order: dict[str, Any]) -> dict[str, Any]:
        """As :func:`run_step`, raising what it raises as it is (the workflow's retry policy alone decides);
        a target named ``…flaky`` loses its first reply, as a timeout would."""
        step = Step.from_dict(order["step"])
        if step.target.endswith("flaky") and activity.info().attempt == 1:
            raise TransportFailed(
                site=step.site, device=step.target, step=step.action, detail="timed out", kind="timeout"
            )
        done = await asyncio.to_thread(run_step, step)
        return {"worker": self.identity, "detail": done.detail, "changed": done.changed}

    @activity.defn(name=LOCK_STATE)
    async def lock_state(self, order: dict[str, Any]) -> dict[str, Any]:
        return {"worker": self.identity, **lock_state_to_dict(lock_state(order["device"]))}

    @activity.defn(name=VERIFY)
    async def verify(self, order: dict[str, Any]) -> dict[str, Any]:
        return {"worker": self.identity, "detail": verify(order["site"])}

    @activity.defn(name=REPLAN)
    async def replan(self, order: dict[str, Any]) -> dict[str, Any]:
        return {"worker": self.identity, "plan": replan(order["site"]).to_dict()}


def _verify(site: str) -> Step:
    return Step(site, "verify", site, Verify())


def _isolated(site: str, *middle: Step) -> SitePlan:
    nvr = f"{site}/nvr"
    return SitePlan(
        site,
        steps=(
            Step(site, "isolate", nvr, IsolateFilter(("@enforcer",), None)),
            *middle,
            Step(site, "release", nvr, ReleaseFilter()),
            _verify(site),
        ),
    )


def plans() -> list[SitePlan]:
    """One site of each kind: converges (after a settle); waits to be read, then planned; waits out a lock; fails and is
    rescued; has nothing to do."""
    return [
        _isolated(
            "a",
            Step("a", "recorder", "a/nvr", AccountKind("operator")),
            Step("a", "channels", "a/nvr", Settle(1.0)),
        ),
        SitePlan("b", locked_out=("b/cam",), wait=2.0),
        SitePlan(
            "c",
            steps=(
                Step("c", "wait", "c/cam", WaitUnlock(1.0)),
                Step("c", "cameras", "c/flaky", AccountKind("admin")),
                _verify("c"),
            ),
        ),
        _isolated("d", Step("d", "cameras", "d/fail", AccountKind("admin"))),
        SitePlan("e"),
    ]


def play(sites: list[str]) -> Play:
    inventory = Inventory("fake-msp", Path("."), tuple(Site(s, (), (), ()) for s in sites))
    return Play("fake", inventory, tuple(sites), frozenset())


def temporal(address: str, site_plans: list[SitePlan], options: RunOptions, on_event: Any) -> list[SiteResult]:
    submission = Submission("fake.yml", play([p.site for p in site_plans]), Holder.this_process("fakework", "applied"))
    return TemporalExecutor(Connection(address), submission).run(site_plans, work(), options, on_event)


def _compare(address: str) -> dict[str, Any]:
    """Both executors on :func:`plans`: each one's events (countdown ticks left out) and results."""
    out: dict[str, Any] = {}
    for name in ("local", "temporal"):
        events: list[Event] = []
        options = RunOptions(concurrency=4)
        if name == "local":
            results = LocalExecutor().run(plans(), work(), options, events.append)
        else:
            results = temporal(address, plans(), options, events.append)
        ticks = [e for e in events if isinstance(e, Waiting | SiteWaiting)]
        kept = [event_to_dict(e) for e in events if e not in ticks]
        waits = sorted({e.step.id if isinstance(e, Waiting) else e.site for e in ticks})
        out[name] = {"events": kept, "waits": waits, "results": [result_to_dict(r) for r in results]}
    return out


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        identity = sys.argv[3]

        def ready() -> None:
            sys.stderr.write(f"worker {identity} serving\n")
            sys.stderr.flush()

        activities = FakeActivities(identity)
        calls = [activities.step, activities.lock_state, activities.verify, activities.replan]
        limits = Limits(200, per_queue=float(sys.argv[4]) if len(sys.argv) > 4 else None)
        asyncio.run(serve(Connection(sys.argv[2]), "default", calls, limits, identity=identity, ready=ready))
    elif sys.argv[1] == "submit":

        def heard(event: Event) -> None:
            sys.stdout.write("heard\n")
            sys.stdout.flush()

        waiting = SitePlan("a", locked_out=("a/cam",), wait=float(sys.argv[3]))
        [result] = temporal(sys.argv[2], [waiting], RunOptions(), heard)
        sys.stdout.write(json.dumps(result_to_dict(result)) + "\n")
    elif sys.argv[1] == "many":
        names = [f"s{n}" for n in range(int(sys.argv[3]))]
        results = temporal(sys.argv[2], [_isolated(s) for s in names], RunOptions(), lambda event: None)
        sys.stdout.write(json.dumps([r.status for r in results]) + "\n")
    else:
        sys.stdout.write(json.dumps(_compare(sys.argv[2])) + "\n")
    sys.stdout.flush()
    os._exit(0)
