"""The Temporal backend's pure parts: events and results through JSON, which errors a retry may mend, and
the follower's countdown of a wait that arrived as one event."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.exceptions import ApplicationError

from enforcer.engine import executor as ex
from enforcer.engine.temporal.activities import failure
from enforcer.engine.temporal.client import _Follower, task_queue
from enforcer.engine.temporal.wire import event_from_dict, event_to_dict, result_from_dict, result_to_dict
from enforcer.engine.temporal.workflow import AUTHENTICATION, retry_policy
from enforcer.errors import DeviceError, LockedOut, LoginFailed, Refused, TransportFailed
from enforcer.plan.artifact import SitePlan, Step
from enforcer.plan.diff import Change
from enforcer.plan.steps import AccountKind, WaitUnlock

STEP = Step(
    "s",
    "recorder",
    "s/nvr",
    AccountKind("operator"),
    (Change("s/nvr", "credentials", "account", "accounts.operator.password", "update", sensitive=True),),
)
WAIT = Step("s", "wait", "s/cam", WaitUnlock(30.0))
EVENTS: list[ex.Event] = [
    ex.StepStarted(STEP),
    ex.StepFinished(STEP, "failed", "s/nvr: account: refused", False),
    ex.Waiting(WAIT, 30.0, 30.0),
    ex.SiteWaiting("s", ("s/cam",), 12.0, 12.0),
    ex.SitePlanned(SitePlan("s", steps=(STEP,), locked_out=())),
    ex.SiteFinished("s", "converged", "converged"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_crosses_json_unchanged(event: ex.Event) -> None:
    assert event_from_dict(event_to_dict(event)) == event


def test_a_result_crosses_json_unchanged() -> None:
    result = ex.SiteResult("s", "failed", "why", [ex.StepResult(STEP, "succeeded", "set", True)], unreachable=1)
    assert result_from_dict(result_to_dict(result)) == result


def test_an_unknown_event_names_the_version_gap() -> None:
    with pytest.raises(ValueError, match="another version"):
        event_from_dict({"type": "telepathy"})


def _error(cls: type[DeviceError], **extra: Any) -> DeviceError:
    return cls(site="s", device="nvr", step="account", detail="said no", **extra)


@pytest.mark.parametrize(
    "error",
    [
        _error(LoginFailed),
        _error(LockedOut, unlock_seconds=60.0),
        Refused("s/nvr", "two attempts left: kept in reserve"),
        _error(DeviceError),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_authentication_failure_or_a_device_s_answer_is_never_retried(error: Exception) -> None:
    mapped = failure(error)
    assert mapped.non_retryable and mapped.message == str(error) and mapped.type == type(error).__name__


def test_a_lost_reply_may_be_retried_and_a_bug_says_so_as_the_local_executor_does() -> None:
    lost = failure(_error(TransportFailed, kind="timeout"))
    assert not lost.non_retryable
    bug = failure(KeyError("x"))
    assert isinstance(bug, ApplicationError) and bug.non_retryable
    assert bug.message == "internal error: KeyError: 'x'"


def test_the_retry_policy_names_every_authentication_failure() -> None:
    assert {"LoginFailed", "LockedOut", "Refused"} <= set(AUTHENTICATION)
    assert retry_policy().non_retryable_error_types == list(AUTHENTICATION)


def test_a_wait_is_counted_down_by_the_follower_until_it_ends() -> None:
    heard: list[ex.Event] = []
    follower = _Follower(heard.append)
    follower.take([event_to_dict(ex.Waiting(WAIT, 30.0, 30.0), at=1000.0)])
    follower.tick(now=lambda: 1010.0)
    assert heard[-1] == ex.Waiting(WAIT, 30.0, 20.0)
    follower.take([event_to_dict(ex.StepFinished(WAIT, "succeeded", "unlocked after 30.0 s"))])
    count = len(heard)
    follower.tick(now=lambda: 1020.0)
    assert len(heard) == count and follower.seen == 2


def test_sites_without_a_region_share_one_queue() -> None:
    assert task_queue(None) == task_queue("default") == "enforce-default"
    assert task_queue("eu-west") == "enforce-eu-west"
