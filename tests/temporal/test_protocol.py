"""The two executors are one protocol: the same sites, run in this process and as Temporal workflows on two
worker processes, give the same results and, site by site, the same events in the same order."""

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
    assert remote["waits"] == local["waits"] == ["b", "c/cam:wait_unlock"]  # both counted both waits down
    for site in "abcde":
        mine = [e for e in local["events"] if _site(e) == site]
        theirs = [e for e in remote["events"] if _site(e) == site]
        assert mine and theirs == mine, site


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
