"""Benchmark ``enforce audit``: 1,000 lab devices, wall time (facts, security logs, the pure audit, each
report), requests per device, report sizes, enforcer peak memory.

Usage::

    .venv/bin/python bench/audit_bench.py [--sites 100] [--cameras 9] [--concurrency 32] [--problems ...]
                                          [--vendor hikvision dahua ...]

As ``bench/facts_bench.py``: a child process generates and serves the fleet, this process is enforcer
alone, counting requests at the driver's transport; several vendors run one after the other, each in a
fresh process. Targets on a 2-core machine: under 15 s; the log read adding 2 requests per device on
Hikvision (the device's time, one search page), 4 on Dahua (time, startFind, doFind, stopFind) to what facts
send; enforcer under 250 MB; an HTML report under 1 MB, which a browser opens at once.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from facts_bench import _without_vendor, serve_lab


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
    out = Path(tempfile.mkdtemp(prefix="audit-bench-")) / "repo"
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


def run(out: Path, concurrency: int) -> None:
    from enforcer.audit import AuditReport, PlayAudit, audit_site
    from enforcer.config.diagnostics import Diagnostics
    from enforcer.config.playbook import load_playbook
    from enforcer.drivers._wire import http as _http
    from enforcer.drivers.base import DriverOptions
    from enforcer.drivers.registry import client_kinds
    from enforcer.engine.audit import DAY, own_addresses, read_logs
    from enforcer.engine.gather import devices_of
    from enforcer.engine.run import PlayRun
    from enforcer.report.audit import audit_document, audit_html, audit_junit, audit_markdown

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
    session = PlayRun(play, DriverOptions(timeout=10), concurrency)
    devices = devices_of(play)
    loaded = time.perf_counter()
    found = session.gather(devices)
    gathered = time.perf_counter()
    now = time.time()
    logs = read_logs(session, found, now - 7 * DAY)
    logged = time.perf_counter()
    unread: dict[str, Any] = {}
    sites = tuple(
        audit_site(
            site,
            found.facts,
            unread,
            logs,
            enforce=play.enforce,
            known=session.known(),
            now=now,
            recorded=session.keyring.isolated(),
            own=own_addresses(devices, None),
            kinds=client_kinds(),
        )
        for site in play.selected()
    )
    report = AuditReport("site.yml", now, now - 7 * DAY, (PlayAudit(play.name, sites),))
    audited = time.perf_counter()
    sizes = {}
    for name, render in (
        ("json", lambda: json.dumps(audit_document(report)).encode()),
        ("html", lambda: audit_html(report).encode()),
        ("junit", lambda: audit_junit(report)),
        ("markdown", lambda: audit_markdown(report).encode()),
    ):
        began = time.perf_counter()
        sizes[name] = (len(render()), time.perf_counter() - began)
    session.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = sum(counts.values())
    print(f"devices            {len(devices)}, concurrency {concurrency}")
    print(f"facts ok / failed  {len(found.facts)} / {len(found.failures)}; logs read {len(logs)}")
    print(f"findings           {len(report.findings)} ({sum(f.counts for f in report.findings)} counted)")
    print(f"load playbook      {loaded - start:.2f} s")
    print(f"gather facts       {gathered - loaded:.2f} s")
    print(f"security logs      {logged - gathered:.2f} s")
    print(f"audit (pure)       {audited - logged:.2f} s")
    print(f"wall time          {audited - start:.2f} s (before the reports)")
    for name, (size, took) in sizes.items():
        print(f"report {name:<11} {size / 1024:.0f} KB in {took:.2f} s")
    print(f"requests / device  {total / len(devices):.2f}")
    print(f"enforcer peak RSS  {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
