"""Benchmark: 10,000 sites submitted to a Temporal dev server and completed by worker processes.

Not a test: prints figures. Everything runs on this machine: the Temporal CLI's dev server (the binary
the test extra installs, SQLite in memory), worker processes, and this process, which submits every site
through :class:`~enforcer.engine.temporal.TemporalExecutor` exactly as ``apply --backend temporal`` does
and follows each to its result.

The site work is the fake of ``tests/temporal/fakework.py``: the site workflow, its activities, its
retries and timers are the real ones, but a step touches no device (the lab serves about 1,000 devices
a process, so 10,000 sites would need 40,000 simulated devices on two cores beside the server; that
measures the lab). Each site: isolate, change an account, release, verify (4 activities), and every
tenth site waits out a one-second lock first (a durable timer and a lock-state read).

    .venv/bin/python bench/temporal_bench.py                 # 10,000 sites, 2 workers
    .venv/bin/python bench/temporal_bench.py --sites 1000 --workers 1

Figures (2 cores shared with other sessions' test suites, load average about 10; run inside
``unshare --net``): 10,000 sites submitted and all 10,000 converged in 751 s, 13 sites/s and 56
activities/s (41,000 steps and 1,000 lock waits, each a durable timer and a lock-state read). CPU: the dev
server 561 s (peak RSS 1.2 GiB), each worker 129 s (135 MiB), the submitter 87 s (150 MiB). The dev server
(SQLite, one process) is the bottleneck, not the workers nor the follower; a cluster spreads that work
across its services. Half the sites were seen finished only after 707 s: with 10,000 sites running,
each is asked about every 200 s (see ``client.py``), so ends arrive in bursts.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from enforcer.engine.executor import Event, RunOptions, SiteFinished, StepFinished  # noqa: E402
from enforcer.plan.artifact import SitePlan, Step  # noqa: E402
from enforcer.plan.steps import AccountKind, WaitUnlock  # noqa: E402
from tests.temporal.fakework import _isolated, temporal  # noqa: E402

TEMPORAL = Path(sys.executable).parent / "temporal"


def site_plan(index: int) -> SitePlan:
    name = f"site-{index:05d}"
    plan = _isolated(name, Step(name, "recorder", f"{name}/nvr", AccountKind("operator")))
    if index % 10 == 0:
        plan = SitePlan(name, steps=(Step(name, "wait", f"{name}/nvr", WaitUnlock(1.0)), *plan.steps))
    return plan


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _cpu_and_peak(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and peak RSS in MiB of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    return cpu, peak // 1024


def _wait_ready(path: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        if time.monotonic() > deadline:
            raise SystemExit(f"not ready: {path}\n{path.read_text()}")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="temporal-bench-"))
    port = _free_port()
    address = f"127.0.0.1:{port}"
    command = [str(TEMPORAL), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--headless"]
    processes: dict[str, subprocess.Popen[bytes]] = {}
    with (folder / "server.log").open("wb") as log:
        processes["server"] = subprocess.Popen([*command, "--log-level", "error"], stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert time.monotonic() < deadline, "the dev server did not start"
        time.sleep(0.1)
    for n in range(args.workers):
        name = f"worker-{n}"
        path = folder / f"{name}.log"
        with path.open("wb") as log:
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", "tests.temporal.fakework", "worker", address, name],
                stdout=log,
                stderr=log,
                cwd=ROOT,
            )
        _wait_ready(path, f"worker {name} serving")

    plans = [site_plan(i) for i in range(args.sites)]
    seen: Counter[str] = Counter()
    finished_at: list[float] = []

    def heard(event: Event) -> None:
        seen[type(event).__name__] += 1
        if isinstance(event, SiteFinished):
            finished_at.append(time.monotonic())
        if isinstance(event, StepFinished) and event.status != "succeeded":
            seen["step not succeeded"] += 1

    start = time.monotonic()
    try:
        results = temporal(address, plans, RunOptions(concurrency=200), heard)
    finally:
        took = time.monotonic() - start
        figures = {name: _cpu_and_peak(p.pid) for name, p in processes.items()}
        for process in processes.values():
            process.terminate()
    statuses = Counter(r.status for r in results)
    activities = sum(len(p.steps) + sum(isinstance(s.kind, WaitUnlock) for s in p.steps) for p in plans)
    half = sorted(finished_at)[len(finished_at) // 2] - start
    print(f"sites {args.sites}, workers {args.workers} (fake site work: no device), 2 cores shared with the server")
    print(f"  all completed in {took:.1f} s: {args.sites / took:.0f} sites/s, {activities / took:.0f} activities/s")
    print(f"  half of the sites finished after {half:.1f} s; results {dict(statuses)}")
    print(f"  events handed to the subscriber: {dict(seen)}")
    figures["submitter"] = _cpu_and_peak(os.getpid())
    for name, (cpu, peak) in figures.items():
        print(f"  {name:<9} cpu {cpu:7.1f} s, peak RSS {peak:5d} MiB")
    for process in processes.values():
        process.wait(timeout=30)
    sys.stdout.flush()
    os._exit(0 if statuses == Counter({"converged": args.sites}) else 1)


if __name__ == "__main__":
    main()
