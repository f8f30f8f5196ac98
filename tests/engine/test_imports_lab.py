"""Start-up of the commands that read a fleet: ``facts`` and ``plan`` import what reading (and planning)
runs with, not what applying does (0.07 s of a 1,000-device ``facts`` before).

As ``tests/unit/test_startup.py``, checked by what gets imported, not by a clock; here the command
runs to its end against a served fleet, so a module imported late (a driver's, when it opens) counts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.unit.test_startup import PROBE

pytestmark = pytest.mark.lab

#: Applying: the executor (asyncio), the journal (sqlite3), the step handlers, a driver's writes.
APPLYING = (
    "asyncio",
    "sqlite3",
    "enforcer.engine.executor",
    "enforcer.engine.journal",
    "enforcer.engine.handlers",
    "enforcer.drivers.isapi._write",
    "enforcer.drivers.isapi._firmware",
    "enforcer.drivers.isapi._log",
)
#: Neither reads nor plans: the planner, the lab's spec, and ``urllib.request`` with ``http.client``
#: (``xml.sax.saxutils`` imports them).
NOT_READING = ("enforcer.plan", "enforcer.lab.spec", "urllib.request", "http.client")


def _imported(lab: Any, command: str) -> list[str]:
    fleet = lab(sites=1, cameras=2)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, command, fleet.playbook], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stderr.strip().splitlines()[-1])


def _loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if m in names or m.startswith(tuple(f"{n}." for n in names))]


def test_facts_imports_neither_planning_nor_applying(lab: Any) -> None:
    modules = _imported(lab, "facts")
    assert "enforcer.drivers.isapi._driver" in modules  # it read the devices: the driver is imported
    assert _loaded(modules, APPLYING + NOT_READING) == []


def test_plan_imports_nothing_that_applies(lab: Any) -> None:
    modules = _imported(lab, "plan")
    assert "enforcer.plan.planner" in modules
    assert _loaded(modules, APPLYING) == []
