"""Benchmark the lab: authenticated ISAPI requests per second and peak RSS at 100 and 1,000 devices.

Usage::

    .venv/bin/python bench/lab_bench.py [--sizes 100 1000] [--seconds 5] [--procs 2] [--threads 8]

The lab runs in its own process (one asyncio loop, one listening socket per device on 127.1.x.y);
load processes keep one keep-alive connection per device and reuse each nonce with a growing
``nc``, as a real digest client does. Only ``200`` replies to authenticated requests are counted.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import secrets
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

from enforcer.lab.fleet import Fleet
from enforcer.lab.net.digest import digest_response, parse_authorization
from enforcer.lab.spec import LabAccount, LabDevice, LabLockPolicy, LabSpec

PASSWORD = "Bench12345!"
PATH = "/ISAPI/Security/userCheck"


def address(i: int) -> str:
    return f"127.1.{i // 250}.{i % 250 + 1}"


def fleet_spec(n: int) -> LabSpec:
    devices = [
        LabDevice(
            name=f"cam{i}",
            site=f"site{i // 10}",
            role="camera",
            vendor="hikvision",
            model="DS-2CD2146G2-ISU",
            serial=f"DS-2CD2146G2-ISU00000000AAWRG{i:05d}",
            address=address(i),
            port=8080,
            scheme="http",
            firmware_version="V5.7.17",
            firmware_build="build 240606",
            accounts=[LabAccount("admin", "administrator", PASSWORD)],
            lock_policy=LabLockPolicy(max_attempts=7, lock_seconds=1800),
        )
        for i in range(n)
    ]
    return LabSpec(devices)


def run_lab(n: int, ready: Event, stop: Event) -> None:
    with Fleet(fleet_spec(n), directory=Path(tempfile.mkdtemp(prefix="lab-bench-"))):
        ready.set()
        stop.wait()


class DigestConn:
    """One keep-alive connection to one device, reusing its nonce."""

    def __init__(self, host: str) -> None:
        self.conn = http.client.HTTPConnection(host, 8080, timeout=10)
        self.chal: dict[str, str] = {}
        self.nc = 0

    def request(self) -> int:
        headers = {}
        if self.chal:
            self.nc += 1
            nc, cnonce = f"{self.nc:08x}", secrets.token_hex(4)
            realm, nonce = self.chal["realm"], self.chal["nonce"]
            resp = digest_response("admin", realm, PASSWORD, "GET", PATH, nonce, nc, cnonce, "auth")
            headers["Authorization"] = (
                f'Digest username="admin", realm="{realm}", nonce="{nonce}", uri="{PATH}", qop=auth, '
                f'nc={nc}, cnonce="{cnonce}", response="{resp}"'
            )
        self.conn.request("GET", PATH, headers=headers)
        r = self.conn.getresponse()
        r.read()
        if r.status == 401:
            _, self.chal = parse_authorization(r.getheader("WWW-Authenticate") or "")
            self.nc = 0
        return r.status


def load_worker(hosts: list[str], threads: int, seconds: float, out: Connection) -> None:
    counts = [0] * threads
    errors = [0] * threads
    deadline = [0.0]
    start_gate = threading.Barrier(threads + 1)

    def run(k: int) -> None:
        conns = [DigestConn(h) for h in hosts[k::threads]]
        for c in conns:  # handshake: read each challenge once (free)
            c.request()
        start_gate.wait()
        i = 0
        while time.monotonic() < deadline[0]:
            status = conns[i % len(conns)].request()
            if status == 200:
                counts[k] += 1
            else:
                errors[k] += 1
            i += 1

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    start_gate.wait()
    deadline[0] = time.monotonic() + seconds
    for w in workers:
        w.join()
    out.send((sum(counts), sum(errors)))


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench(n: int, seconds: float, procs: int, threads: int) -> None:
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    t0 = time.monotonic()
    lab = ctx.Process(target=run_lab, args=(n, ready, stop))
    lab.start()
    if not ready.wait(120):
        raise SystemExit("lab did not start")
    startup = time.monotonic() - t0
    hosts = [address(i) for i in range(n)]
    pipes, loaders = [], []
    for p in range(procs):
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=load_worker, args=(hosts[p::procs], threads, seconds, send))
        proc.start()
        pipes.append(recv)
        loaders.append(proc)
    results = [r.recv() for r in pipes]
    for proc in loaders:
        proc.join()
    assert lab.pid is not None
    rss = peak_rss_mb(lab.pid)
    stop.set()
    lab.join(30)
    ok = sum(r[0] for r in results)
    bad = sum(r[1] for r in results)
    print(
        f"{n:>5} devices: {ok / seconds:8.0f} authenticated req/s ({ok} in {seconds:.0f} s, {bad} non-200), "
        f"lab peak RSS {rss:.0f} MB, start-up {startup:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    for n in args.sizes:
        bench(n, args.seconds, args.procs, args.threads)


if __name__ == "__main__":
    main()
