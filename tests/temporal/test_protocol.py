"""The two executors are one protocol: the same sites, run in this process and as Temporal workflows on two
worker processes, give the same results and, site by site, the same events in the same order. What only
Temporal does (retries, a queue's rate limit) is read from the workflows' histories."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.temporal.conftest import ROOT, Temporal

pytestmark = pytest.mark.lab


def _site(event: dict[str, Any]) -> str:
    if "step" in event:
        return str(event["step"]["site"])
    return str(event["plan"]["site"] if "plan" in event else event["site"])


def test_the_temporal_executor_runs_sites_as_the_local_one_does(temporal: Temporal) -> None:
    for name in ("fake-a", "fake-b"):
        command = [sys.executable, "-m", "tests.temporal.fakework", "worker", temporal.address, name]
        temporal.start(command, f"{name}.log", f"worker {name} serving")
    compared = subprocess.run(
        [sys.executable, "-m", "tests.temporal.fakework", "compare", temporal.address],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert compared.returncode == 0, compared.stderr
    local, remote = json.loads(compared.stdout).values()
    assert [r["status"] for r in local["results"]] == ["converged", "converged", "converged", "failed", "unchanged"]
    assert "released nvr" in local["results"][3]["detail"]  # the failed site was rescued
    assert remote["results"] == local["results"]
    # both counted every wait down: a settle, a site waiting to be read, a lock
    assert remote["waits"] == local["waits"] == ["a/nvr:settle", "b", "c/cam:wait_unlock"]
    for site in "abcde":
        mine = [e for e in local["events"] if _site(e) == site]
        theirs = [e for e in remote["events"] if _site(e) == site]
        assert mine and theirs == mine, site

    histories, _ = temporal.histories("histories")
    attempts = {
        wid.rsplit("/", 1)[1]: [e["attempt"] for e in runs[0]["events"] if e["type"] == "ACTIVITY_TASK_STARTED"]
        for wid, runs in histories.items()
    }
    assert attempts["d"] and set(attempts["d"]) == {1}, "a refused login was tried again"
    assert sorted(attempts["c"]) == [1, 1, 2], "a lost reply was not tried again"  # lock state, step, verify


def test_a_second_run_cannot_start_a_site_whose_workflow_runs(temporal: Temporal) -> None:
    """The workflow id is the site's: Temporal refuses a second start while the first runs, and the site
    fails alone naming the run that holds it (the check before facts is the CLI's; this is the backstop)."""
    fake = [sys.executable, "-m", "tests.temporal.fakework"]
    temporal.start([*fake, "worker", temporal.address, "fake-a"], "fake-a.log", "worker fake-a serving")
    first = temporal.start([*fake, "submit", temporal.address, "60"], "first.log", "heard")
    second = subprocess.run(
        [*fake, "submit", temporal.address, "1"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout.splitlines()[-1])
    assert result["status"] == "failed", result
    assert f"site a is being applied by pid {first.pid}" in result["detail"], result
    assert "Temporal workflow fake-msp/a" in result["detail"], result


def test_a_queue_s_rate_limit_holds_for_all_its_workers_together(temporal: Temporal) -> None:
    """``--queue-activities-per-second``: the service starts no more of the queue's activities a second than
    asked, however many workers poll it (each here could start 200 at once)."""
    rate, sites = 5, 8  # 3 activities a site: isolate, release, verify
    fake = [sys.executable, "-m", "tests.temporal.fakework"]
    for name in ("fake-a", "fake-b"):
        temporal.start([*fake, "worker", temporal.address, name, str(rate)], f"{name}.log", f"worker {name} serving")
    many = subprocess.run(
        [*fake, "many", temporal.address, str(sites)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert many.returncode == 0, many.stderr
    assert json.loads(many.stdout.splitlines()[-1]) == ["converged"] * sites
    histories, _ = temporal.histories("histories")
    started = sorted(
        e["time"] for runs in histories.values() for e in runs[0]["events"] if e["type"] == "ACTIVITY_TASK_STARTED"
    )
    assert len(started) == 3 * sites
    # The service's limiter is a token bucket: it lets a burst through as the limit reaches it (the first
    # second), then hands out its tokens in bursts (here 4 every 0.8 s). In any two seconds a bucket lets
    # through at most a burst (a second's tokens) and two seconds' worth: 3 x rate (unlimited: the next line).
    later = [t for t in started if t >= started[0] + 1.0]
    busiest = max((sum(1 for t in later if s <= t < s + 2.0) for s in later), default=0)
    assert busiest <= 3 * rate, started
    assert started[-1] - started[0] >= (len(started) - 2 * rate) / rate, started  # unlimited: all within a second
