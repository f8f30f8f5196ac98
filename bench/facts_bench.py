"""Benchmark ``enforce facts``: 1,000 lab devices, wall time, requests per device, enforcer peak memory.

Usage::

    .venv/bin/python bench/facts_bench.py [--sites 100] [--cameras 9] [--concurrency 32] [--problems ...]
                                          [--vendor hikvision dahua ...]

Several vendors are measured one after the other in one run, each in a fresh process (so each
peak RSS is its own), for figures taken side by side on a noisy machine.

A child process generates the fleet (``--sites`` × (recorder + ``--cameras``)) and serves it with the
lab; this process is the enforcer only: it loads the playbook, opens the credential store and gathers
facts from every device, counting requests at the driver's transport. Peak memory is this process's
maximum RSS (``resource.getrusage``), so the lab is not in it. Targets on a 2-core machine: under
10 s, at most 4 requests per device, enforcer under 200 MB.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any


def serve_lab(out: Path, sites: int, cameras: int, problems: list[str], vendor: str, ready: Event, stop: Event) -> None:
    from enforcer.lab.fleet import Fleet
    from enforcer.lab.generate.generator import generate

    spec = generate(out, sites=sites, cameras=cameras, seed=1, problems=problems, vendor=vendor)
    with Fleet(spec, directory=out):
        ready.set()
        stop.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=100)
    ap.add_argument("--cameras", type=int, default=9)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--problems", default="", help="comma list of lab problems to seed (default none)")
    ap.add_argument("--vendor", nargs="+", default=["hikvision"], help="hikvision, annke, dahua, amcrest or mixed")
    args = ap.parse_args()
    if len(args.vendor) > 1:
        for vendor in args.vendor:
            print(f"--- {vendor}", flush=True)
            subprocess.run([sys.executable, __file__, *_without_vendor(sys.argv[1:]), "--vendor", vendor], check=True)
        return
    out = Path(tempfile.mkdtemp(prefix="facts-bench-")) / "repo"
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    problems = [p for p in args.problems.split(",") if p]
    lab = ctx.Process(
        target=serve_lab, args=(out, args.sites, args.cameras, problems, args.vendor[0], ready, stop), daemon=True
    )
    lab.start()
    if not ready.wait(300):
        raise SystemExit("the lab did not come up")
    try:
        run(out, args.concurrency)
    finally:
        stop.set()
        lab.join(10)


def _without_vendor(argv: list[str]) -> list[str]:
    """The command line minus ``--vendor`` and its values (each child gets one vendor)."""
    out, skipping = [], False
    for arg in argv:
        if arg == "--vendor":
            skipping = True
        elif skipping and not arg.startswith("--"):
            continue
        else:
            skipping = False
            out.append(arg)
    return out


def run(out: Path, concurrency: int) -> None:
    from enforcer.config.diagnostics import Diagnostics
    from enforcer.config.playbook import load_playbook
    from enforcer.drivers._wire import http as _http
    from enforcer.drivers.base import DriverOptions
    from enforcer.engine.gather import devices_of
    from enforcer.engine.run import PlayRun

    counts: Counter[str] = Counter()
    lock = threading.Lock()
    send = _http.Transport.send

    def counting(self: _http.Transport, method: str, target: str, **kw: Any) -> Any:
        with lock:
            counts[self.base_url] += 1
        return send(self, method, target, **kw)

    _http.Transport.send = counting  # type: ignore[method-assign]

    start = time.perf_counter()
    playbook = load_playbook(out / "site.yml", Diagnostics())
    assert playbook is not None
    [play] = playbook.plays
    session = PlayRun(play, DriverOptions(timeout=10), concurrency)  # opens the credential store
    devices = devices_of(play)
    loaded = time.perf_counter()
    result = session.gather(devices)
    done = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = sum(counts.values())
    recorders = [d for d in devices if d.role == "recorder"]
    by_role = {
        role: sum(counts[f"http://{d.address}:{d.port}"] for d in devices if d.role == role) / max(1, n)
        for role, n in (("recorder", len(recorders)), ("camera", len(devices) - len(recorders)))
    }
    print(f"devices            {len(devices)} ({len(recorders)} recorders), concurrency {concurrency}")
    print(f"facts ok / failed  {len(result.facts)} / {len(result.failures)}")
    for failure in result.failures[:5]:
        print(f"  {failure.id}: {failure.step}: {failure.reason}")
    print(f"load playbook      {loaded - start:.2f} s (inventory, vaults, credential store)")
    print(f"gather facts       {done - loaded:.2f} s")
    print(f"wall time          {done - start:.2f} s")
    split = f"recorder {by_role['recorder']:.1f}, camera {by_role['camera']:.1f}"
    print(f"requests / device  {total / len(devices):.2f} ({split})")
    print(f"enforcer peak RSS  {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
