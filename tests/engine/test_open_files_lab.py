"""A fleet larger than the open-file limit is read whole: ``facts`` and ``plan`` hold a connection per
device in flight, not one per device read (a 1,000-device fleet once failed under ``ulimit -n 1024``)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from .conftest import ENFORCER

pytestmark = pytest.mark.lab

LIMIT = 64  # open files for the enforce process: far fewer than the fleet's devices
#: ``enforce`` under a lowered RLIMIT_NOFILE, set before anything is imported or opened.
UNDER_LIMIT = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, ({LIMIT}, {LIMIT}))
from enforcer.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_facts_and_plan_of_a_fleet_larger_than_the_open_file_limit(lab: Any) -> None:
    fleet = lab(sites=12, cameras=9)
    assert len(fleet.spec.devices) >= 2 * LIMIT - 8  # 120 devices, concurrency 20
    for command, converged in (("facts", 0), ("plan", 0)):
        done = subprocess.run(
            [sys.executable, "-c", UNDER_LIMIT, command, fleet.playbook], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == converged, done.stdout[-2000:] + done.stderr[-2000:]
    assert "120 devices" in done.stdout or "No changes" in done.stdout
    assert not [e for e in fleet.events() if e["event"] in ("auth_failed", "locked") and e.get("source") == ENFORCER]
