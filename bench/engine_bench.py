"""Benchmark: plan and apply on lab fleets of 100 and 1,000 devices, and sites waiting out locks.

Not a test: prints figures. The lab runs in its own process (``enforce lab serve``), as a real fleet
would be elsewhere; this process is the enforcer, so its peak RSS is the enforcer's.

    .venv/bin/python bench/engine_bench.py            # 100 and 1,000 devices, and 100 locked sites
    .venv/bin/python bench/engine_bench.py --quick    # 100 devices only
    .venv/bin/python bench/engine_bench.py --vendor hikvision dahua   # both, side by side in one run

Targets: plan of 1,000 devices under 15 s; a converged re-run of apply on 1,000 devices under 15 s;
100 sites that each wait out a lock finish within 1.3x one wait.
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import requests

from enforcer.config.diagnostics import Diagnostics
from enforcer.config.playbook import load_playbook
from enforcer.drivers.base import DriverOptions
from enforcer.engine.executor import RunOptions
from enforcer.engine.journal import Journal
from enforcer.engine.run import PlayRun
from enforcer.engine.sitelocks import FileSiteLocks, Held, Holder, holding
from enforcer.lab.generate.generator import generate

ENFORCE = str(Path(sys.executable).parent / "enforce")
SCALE = 0.01

_count = 0
_count_lock = threading.Lock()
_send = requests.Session.send


def _counting_send(self: requests.Session, request: requests.PreparedRequest, **kw: object) -> requests.Response:
    global _count
    with _count_lock:
        _count += 1
    return _send(self, request, **kw)  # type: ignore[arg-type]


requests.Session.send = _counting_send  # type: ignore[method-assign]


@contextmanager
def served(root: Path, scale: float) -> Iterator[None]:
    lab = subprocess.Popen(
        [ENFORCE, "lab", "serve", str(root), "--time-scale", str(scale)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not (root / "lab.ready.json").exists():
            if time.monotonic() > deadline or lab.poll() is not None:
                raise RuntimeError(f"the lab did not start: {lab.stderr.read() if lab.stderr else ''}")
            time.sleep(0.05)
        yield
    finally:
        lab.send_signal(signal.SIGTERM)
        lab.wait(timeout=30)


def _play(root: Path) -> PlayRun:
    diagnostics = Diagnostics()
    playbook = load_playbook(root / "site.yml", diagnostics)
    assert playbook is not None, [str(d) for d in diagnostics]
    play = playbook.plays[0]
    return PlayRun(play, DriverOptions(), concurrency=play.concurrency, time_scale=SCALE)


@contextmanager
def held(run: PlayRun) -> Iterator[Held]:
    """The play's site locks, as enforce apply holds them."""
    locks = FileSiteLocks.of_inventory(run.play.inventory.path)
    sites = [s.name for s in run.play.selected()]
    with holding([(locks, sites)], Holder.this_process("engine_bench", "benchmarked")) as taken:
        yield taken[0]


def _requests() -> int:
    with _count_lock:
        return _count


def fleet_figures(sites: int, cameras: int, vendor: str) -> None:
    global _count
    devices = sites * (cameras + 1)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "fleet"
        # The lab in real time here: at a fast time scale its recorders re-poll their cameras hundreds
        # of times a second, and the benchmark would measure the lab's own load, not enforcer.
        generate(
            root, sites=sites, cameras=cameras, seed=1, problems=("lock_disabled",), problem_share=0.2, vendor=vendor
        )
        with served(root, 1.0):
            _count = 0
            start = time.monotonic()
            run = _play(root)
            found = run.gather()
            plan = run.plan(found, playbook=str(root / "site.yml"))
            plan_time, plan_requests = time.monotonic() - start, _requests()
            changes = sum(len(s.pending) for s in plan.sites)
            journal = Journal(root / "journal.db")
            options = RunOptions(concurrency=20, serial=("100%",), max_fail_percentage=100, time_scale=SCALE)
            start = time.monotonic()
            with held(run) as locks:
                results = run.apply(plan, journal, options, lambda event: None, held=locks)
            apply_time = time.monotonic() - start
            run.close()
            failed = sum(1 for r in results if r.status == "failed")
            _count = 0
            start = time.monotonic()
            rerun = _play(root)
            loaded = time.monotonic()
            found = rerun.gather()
            gathered = time.monotonic()
            again = rerun.plan(found, playbook=str(root / "site.yml"))
            with held(rerun) as locks:
                rerun.apply(again, journal, options, lambda event: None, held=locks)
            rerun_time, rerun_requests = time.monotonic() - start, _requests()
            split = (
                f"load {loaded - start:.1f} s, facts {gathered - loaded:.1f} s, "
                f"plan+apply {time.monotonic() - gathered:.1f} s"
            )
            rerun.close()
    print(
        f"{devices:>5} devices: plan {plan_time:5.2f} s ({plan_requests / devices:.1f} requests/device, "
        f"{changes} changes); apply {apply_time:5.2f} s ({failed} failed sites); converged re-run of apply "
        f"{rerun_time:5.2f} s [{split}] ({rerun_requests / devices:.1f} requests/device, "
        f"{sum(len(s.pending) for s in again.sites)} changes)"
    )


def lock_waits(sites: int, vendor: str) -> None:
    """Every site's recorder starts locked for us: each site waits inside the run, as timers side by side."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "fleet"
        spec = generate(root, sites=sites, cameras=1, seed=2, problems=("locked", "lock_disabled"), vendor=vendor)
        lock_seconds = max(d.lock_policy.lock_seconds for d in spec.devices if d.locked_sources) * SCALE
        with served(root, SCALE):
            run = _play(root)
            start = time.monotonic()
            found = run.gather()
            plan = run.plan(found, playbook=str(root / "site.yml"), defer_locked=True)
            with held(run) as locks:
                results = run.apply(
                    plan,
                    Journal(root / "journal.db"),
                    RunOptions(concurrency=20, max_fail_percentage=100, time_scale=SCALE),
                    lambda event: None,
                    held=locks,
                    replan=partial(run.replan, client_failures=found.client_failures),
                )
            elapsed = time.monotonic() - start
            run.close()
    converged = sum(1 for r in results if r.status == "converged")
    print(
        f"{sites} sites each waiting out a {lock_seconds:.1f} s lock: {elapsed:.2f} s in all = "
        f"{elapsed / lock_seconds:.2f}x one wait ({converged}/{sites} converged)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--vendor", nargs="+", default=["hikvision"], help="hikvision, annke, dahua, amcrest, mixed")
    args = parser.parse_args()
    if len(args.vendor) > 1:  # each vendor in a fresh process: its own peak RSS
        for vendor in args.vendor:
            print(f"--- {vendor}", flush=True)
            extra = ["--quick"] if args.quick else []
            subprocess.run([sys.executable, __file__, *extra, "--vendor", vendor], check=True)
        return
    [vendor] = args.vendor
    fleet_figures(10, 9, vendor)
    if not args.quick:
        fleet_figures(100, 9, vendor)
        lock_waits(100, vendor)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"enforcer peak RSS: {rss:.0f} MB")
    print(json.dumps({"peak_rss_mb": round(rss)}))


if __name__ == "__main__":
    main()
